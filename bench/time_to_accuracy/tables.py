"""The benchmark's report as Markdown tables (what `python -m bench tta` prints)."""

from __future__ import annotations

from typing import Any


def _pm(s: dict[str, float] | None, fmt: str, scale: float = 1.0) -> str:
    """'mean ± sd' (just the mean for one value), or '-'."""
    if s is None:
        return "-"
    mean = format(s["mean"] * scale, fmt)
    return mean if s["n"] < 2 else f"{mean} ± {format(s['sd'] * scale, fmt)}"


def _params(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_tables(report: dict[str, Any]) -> str:
    """The report as Markdown: machine line, our models, the peers, then any problems."""
    m = report["machine"]
    st = report["settings"]
    out = [
        f"## MNIST benchmark — {m['date']}",
        "",
        f"Device {m['device_name']}; {m['processor']}, {m['cpu_count']} CPUs, "
        f"{m['torch_num_threads']} torch threads; torch {m['torch']}, Python {m['python']}. Seeds "
        f"{', '.join(map(str, st['seeds']))}; values are mean ± sd over seeds. Time to target: "
        "training seconds (evaluation excluded) to the first epoch at or above the target "
        "test accuracy [wall seconds including evaluation], seeds that reached it. Latency: "
        "models.inference.predict on one test digit.",
        "",
    ]
    rows = []
    for s in report["summary"].values():
        targets = []
        for t in s["targets"]:
            label = f"{t['target']:.1%}"
            if t["reached"] == 0:
                targets.append(f"{label}: not reached")
            else:
                targets.append(
                    f"{label}: {_pm(t['train_seconds'], '.1f')} s "
                    f"[{_pm(t['wall_seconds'], '.1f')}] {t['reached']}/{t['of']}"
                )
        p50, p95 = s["latency_p50_ms"], s["latency_p95_ms"]
        rows.append(
            [
                s["model"],
                _params(s["params"]),
                f"{len(s['seeds_finished'])}/{len(st['seeds'])}",
                _pm(s["final_test_accuracy"], ".2f", 100)
                + ("%" if s["final_test_accuracy"] else ""),
                "; ".join(targets) or "-",
                _pm(s["train_images_per_s"], ",.0f"),
                f"{p50['mean']:.2f} / {p95['mean']:.2f}" if p50 and p95 else "-",
                _pm(s["peak_rss_mib"], ".0f"),
            ]
        )
    out.append(
        _table(
            [
                "model",
                "params",
                "seeds done",
                "final test acc",
                "time to target",
                "train img/s",
                "p50 / p95 ms",
                "peak RSS MiB",
            ],
            rows,
        )
    )
    if report["peers"]:
        models = list(report["summary"])
        prow = []
        for p in report["peers"]:
            prow.append(
                [
                    p["name"] + ("" if p["status"] == "finished" else f" ({p['status']})"),
                    _params(p.get("params")),
                    str(p.get("batch_size", "-")),
                    f"{p['images_per_s']:,.1f}" if p.get("images_per_s") else "-",
                    *(
                        f"{r:,.1f}x" if (r := report["ratios"][mm][p["name"]]) else "-"
                        for mm in models
                    ),
                ]
            )
        out += [
            "",
            "Peers: training images/s on the same data and device (float32, batches indexed "
            "from the whole-split tensor), and our mean images/s divided by theirs.",
            "",
            _table(["peer", "params", "batch", "img/s", *(f"{mm} ÷ peer" for mm in models)], prow),
        ]
    problems = [
        f"- {r['model']} seed {r['seed']}: {r['status']}"
        + (f" ({r['error']})" if r.get("error") else "")
        for r in report["runs"]
        if r["status"] != "finished"
    ]
    if problems:
        out += ["", "Runs not finished (cut runs count for time to target, not final accuracy):"]
        out += problems
    return "\n".join(out)
