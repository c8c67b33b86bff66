"""The benchmark: a smoke run on a tiny budget (no timed assertions), the peers, bad options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.peers import PEERS, create_peer
from bench.time_to_accuracy.tables import format_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """One tiny benchmark run in a subprocess: its JSON report and its stdout."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "tta",
        *("--models", "mlp", "--seeds", "0", "--epochs", "1", "--train-subset", "2000"),
        *("--peer-seconds", "1", "--peer-batch-size", "8", "--latency-samples", "50"),
        *("--json", str(out)),
    ]
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir)}
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_smoke_report_has_sane_figures(smoke: tuple[dict, str]) -> None:
    report, _ = smoke
    assert set(report) >= {"machine", "settings", "summary", "peers", "ratios", "runs"}
    assert report["machine"]["torch"] == torch.__version__
    assert report["machine"]["torch_num_threads"] >= 1

    (run,) = report["runs"]
    assert run["model"] == "mlp" and run["seed"] == 0 and run["status"] == "finished"
    assert run["n_train"] == 2000 and run["epochs_done"] == 1
    assert 0 < run["final_test_accuracy"] <= 1
    assert run["train_images_per_s"] > 0
    assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p95"]
    assert run["peak_rss_mib"] > 0
    assert [t["target"] for t in run["targets"]] == [0.98]
    (epoch,) = run["epochs"]
    assert epoch["test_accuracy"] == run["final_test_accuracy"]
    assert 0 < epoch["train_seconds"] <= epoch["wall_seconds"]

    s = report["summary"]["mlp"]
    assert s["final_test_accuracy"]["mean"] == run["final_test_accuracy"]
    assert s["final_test_accuracy"]["n"] == 1 and s["final_test_accuracy"]["sd"] == 0
    assert s["targets"][0]["of"] == 1

    peers = {p["name"]: p for p in report["peers"]}
    assert set(peers) == {"seed", "examples"}
    for name, p in peers.items():
        assert p["status"] == "finished"
        assert p["images_per_s"] > 0 and p["steps"] >= 1 and p["peak_rss_mib"] > 0
        assert p["params"] == pytest.approx(PEERS[name].expected_params, rel=0.02)
        ratio = report["ratios"]["mlp"][name]
        assert ratio == pytest.approx(s["train_images_per_s"]["mean"] / p["images_per_s"])


@pytest.mark.slow
def test_smoke_prints_both_tables(smoke: tuple[dict, str]) -> None:
    report, stdout = smoke
    assert stdout.strip() == format_tables(report)
    assert "| mlp " in stdout and "98.0%" in stdout
    assert "| seed " in stdout and "| examples " in stdout and "mlp ÷ peer" in stdout


def test_peer_parameter_counts() -> None:
    # The seed's net is described as "about 4.4M parameters"; pytorch/examples' as published.
    assert sum(p.numel() for p in create_peer("seed").parameters()) == pytest.approx(
        4.4e6, rel=0.01
    )
    assert sum(p.numel() for p in create_peer("examples").parameters()) == 1_199_882
    for name in PEERS:
        out = create_peer(name)(torch.rand(2, 1, 28, 28))  # (B,1,28,28) -> (B,10)
        assert out.shape == (2, 10)


@pytest.mark.parametrize(
    "argv",
    [
        ["--models", "nope"],
        ["--seeds", "a,b"],
        ["--peers", "other"],
        ["--max-minutes", "0"],
        ["--models", "mlp", "--batch-size", "0"],
    ],
)
def test_bad_options_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tta", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


@pytest.mark.slow
def test_race_smoke_reports_the_seconds_to_target_per_entry(
    mnist_dir: Path, tmp_path: Path
) -> None:
    # The speedrun on 2,000 images (16 steps, checks at epoch end only): to 80%, not timed.
    out = tmp_path / "race.json"
    cmd = [sys.executable, "-m", "bench", "race", "--entries", "speedrun", "--seeds", "0"]
    cmd += ["--train-subset", "2000", "--peers", "none", "--json", str(out)]
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir)}
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    (result,) = row["runs"]
    assert row["entry"] == "speedrun" and row["target"] == 0.99
    assert result["model"] == "speednet" and result["status"] == "finished"
    assert result["seconds_to_target"] is None  # 2,000 images do not reach 99%
    assert 0.5 < result["test_accuracy"] < 0.99 and result["train_seconds"] > 0
    assert "| speedrun | 99.0% | - | 0/1 |" in proc.stdout


@pytest.mark.parametrize("argv", [["--entries", "sprint"], ["--seeds", "a"], ["--peers", "other"]])
def test_race_bad_options_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["race", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_the_tool_list_prints_every_tool(capsys):
    """`python -m bench --help` lists the tools; a "%" in a description (the race's "99%")
    once made it raise instead."""
    from bench.cli import TOOLS, build_parser

    with pytest.raises(SystemExit) as ended:
        build_parser().parse_args(["--help"])
    assert ended.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in TOOLS)
    assert "99% / 99.5%" in out


def test_feel_options_and_its_table() -> None:
    """`bench feel`: --only picks sections (in a round's order); the table from given numbers,
    with a note where the measured app lacks a part. Nothing here starts a server."""
    from bench import feel
    from bench.cli import build_parser

    args = build_parser().parse_args(["feel", "--only", "switch,draw", "--repeats", "2"])
    assert args.repeats == 2 and feel.parse_sections(args.only) == ["draw", "switch"]
    assert feel.parse_sections(build_parser().parse_args(["feel"]).only) == list(feel.SECTIONS)

    fig = feel.Figures()
    for s in (0.5, 1.5, 0.75):
        fig.add("draw", "stroke -> prediction", s)
    fig.missing("switch", "-> Start here")
    lines = feel.format_table(list(fig.rows.values())).splitlines()
    assert lines[0].split() == ["section", "what", "median", "worst", "n"]
    assert lines[1].split() == ["draw", "stroke", "->", "prediction", "0.75s", "1.50s", "3"]
    assert lines[2].endswith(feel.NOT_IN_VERSION) and lines[2].startswith("switch")


@pytest.mark.parametrize("argv", [["--only", "draw,nope"], ["--repeats", "0"], ["--repo", "/"]])
def test_feel_bad_options_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feel", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
