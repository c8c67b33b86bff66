"""The benchmark's report: machine information, settings, per-model statistics over seeds,
the peers and our images/s divided by theirs (what --json writes, and what the tables show)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from bench.time_to_accuracy.settings import DEFAULT_PEER_BATCH, LATENCY_WARMUP, TARGETS


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    """Mean, sample standard deviation (0 for one value), min, max and count; None if empty."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {
        "mean": statistics.fmean(vals),
        "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
    }


def _summarise(model: str, seeds: list[int], runs: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [r for r in runs if r["model"] == model and r["status"] in ("finished", "cut")]
    finished = [r for r in mine if r["status"] == "finished"]
    targets = []
    for i, target in enumerate(TARGETS.get(model, ())):
        hits = [r["targets"][i] for r in mine if r["targets"][i]["train_seconds"] is not None]
        targets.append(
            {
                "target": target,
                "reached": len(hits),
                "of": len(seeds),
                "train_seconds": _stats([h["train_seconds"] for h in hits]),
                "wall_seconds": _stats([h["wall_seconds"] for h in hits]),
                "epoch": _stats([h["epoch"] for h in hits]),
            }
        )
    return {
        "model": model,
        "params": mine[0]["n_params"] if mine else None,
        "seeds_run": [r["seed"] for r in mine],
        "seeds_finished": [r["seed"] for r in finished],
        # A cut run's last accuracy is not a final one: only finished runs count here.
        "final_test_accuracy": _stats([r["final_test_accuracy"] for r in finished]),
        "targets": targets,
        "train_images_per_s": _stats([r["train_images_per_s"] for r in mine]),
        "latency_p50_ms": _stats([r["latency_ms"]["p50"] for r in mine]),
        "latency_p95_ms": _stats([r["latency_ms"]["p95"] for r in mine]),
        "peak_rss_mib": _stats([r["peak_rss_mib"] for r in mine]),
    }


def _cpu_model() -> str:
    """The CPU's name: platform.processor() is often empty on Linux, /proc/cpuinfo is not."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_report(
    args: argparse.Namespace,
    models: list[str],
    seeds: list[int],
    peers: list[str],
    runs: list[dict[str, Any]],
    peer_results: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """The whole report: machine, settings, summary per model, peers, ratios, raw runs."""
    done = [r for r in [*runs, *peer_results] if r["status"] in ("finished", "cut")]
    summary = {m: _summarise(m, seeds, runs) for m in models}
    ratios: dict[str, dict[str, float | None]] = {}
    for m in models:
        ours = summary[m]["train_images_per_s"]
        ratios[m] = {}
        for p in peer_results:
            theirs = p.get("images_per_s")
            ratios[m][p["name"]] = ours["mean"] / theirs if ours and theirs else None
    uname = platform.uname()
    return {
        "machine": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "system": f"{uname.system} {uname.release} {uname.machine}",
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            # As the workers saw them (they train); the parent never touches the device.
            "torch_num_threads": done[0]["num_threads"] if done else torch.get_num_threads(),
            "device": done[0]["device"] if done else None,
            "device_name": done[0]["device_name"] if done else None,
        },
        "settings": {
            "models": models,
            "seeds": seeds,
            "peers": peers,
            "device": args.device,
            "max_minutes": args.max_minutes,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "train_subset": args.train_subset,
            "val_size": args.val_size,
            "peer_seconds": args.peer_seconds,
            "peer_batch_size": args.peer_batch_size or args.batch_size or DEFAULT_PEER_BATCH,
            "latency_samples": args.latency_samples,
            "latency_warmup": LATENCY_WARMUP,
            "targets": {m: list(TARGETS.get(m, ())) for m in models},
            "seconds": seconds,
        },
        "summary": summary,
        "peers": peer_results,
        "ratios": ratios,
        "runs": runs,
    }
