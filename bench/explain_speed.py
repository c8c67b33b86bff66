"""Speed and memory of the explain engine, per architecture (issue 12's budgets).

    python -m bench explain [--checkpoints DIR] [--repeats 20] [--calls 1000]
                                  [--tsne-sample 3000] [--json OUT]

Per digit (median of --repeats, ms): all activations plus a saliency map; integrated
gradients (50 steps); gradcam (convolutional models); occlusion (4x4 window, stride 2). Per
checkpoint: the PCA map of 5,000 test digits (features and projection; median of 3), t-SNE
once on the default sample, and the resident-memory growth over --calls explain calls in a row
(activations plus saliency each), with the number of hooks left on the model afterwards.
Budgets on the 2-core CPU: 100 / 500 / 500 / 500 ms, PCA 2 s, t-SNE 30 s, growth 20 MB, 0 hooks.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mnist_core import explain as E
from mnist_core.data.mnist import load_mnist
from mnist_core.machine import trim_heap
from mnist_core.models import list_models
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_model(name: str, ckpt_dir: Path, raw: object, args: argparse.Namespace) -> dict:
    model = load_checkpoint(ckpt_dir / f"{name}.pt").build_model()
    digits = raw.test_images[:64].float() / 255
    k = iter(range(10**9))

    def digit() -> torch.Tensor:  # a different test digit each call
        return digits[next(k) % len(digits)]

    def explain_call() -> None:
        x = digit()
        E.activations(model, x)
        E.attribute(model, x, "saliency")

    row: dict = {"model": name}
    r = args.repeats
    row["activations_saliency_ms"] = median_ms(explain_call, r)
    row["integrated_gradients_50_ms"] = median_ms(
        lambda: E.attribute(model, digit(), "integrated_gradients", steps=50), r
    )
    row["gradcam_ms"] = (
        median_ms(lambda: E.attribute(model, digit(), "gradcam"), r) if name != "mlp" else None
    )
    row["occlusion_ms"] = median_ms(lambda: E.attribute(model, digit(), "occlusion"), r)

    idx = E.sample_indices(len(raw.test_images), 5000)
    # median of 3 after a warm-up: the map is redone about once a second while a model trains
    row["pca_5000_s"] = (
        median_ms(lambda: E.embedding_map(model, raw.test_images, raw.test_labels, indices=idx), 3)
        / 1e3
    )
    tsne_idx = E.sample_indices(len(raw.test_images), args.tsne_sample)
    t0 = time.perf_counter()
    E.embedding_map(model, raw.test_images, raw.test_labels, projection="tsne", indices=tsne_idx)
    row["tsne_s"] = time.perf_counter() - t0
    row["tsne_points"] = len(tsne_idx)
    t0 = time.perf_counter()
    E.embedding_map(model, raw.test_images, raw.test_labels, projection="tsne", indices=tsne_idx)
    row["tsne_cached_s"] = time.perf_counter() - t0

    for _ in range(50):
        explain_call()
    trim_heap()
    before = rss_mb()
    for _ in range(args.calls):
        explain_call()
    trim_heap()
    row["calls"] = args.calls
    row["memory_growth_mb"] = rss_mb() - before
    row["hooks_left"] = E.hook_count(model)
    return row


def _fmt(v: object, spec: str) -> str:
    return "-" if v is None else format(v, spec)


DESCRIPTION = "speed and memory of the explain engine (activations, attributions, maps)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench explain`."""
    p.add_argument("--checkpoints", type=Path, default=PACKAGED_PRETRAINED_DIR)
    p.add_argument("--data-dir")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--tsne-sample", type=int, default=E.embedding.DEFAULT_SAMPLE)
    p.add_argument("--models", default=",".join(list_models()))
    p.add_argument("--json", type=Path, help="also write the rows as JSON")


def run(args: argparse.Namespace) -> int:
    """Measure every model named in --models and print a Markdown table."""
    raw = load_mnist(args.data_dir)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    header = (
        "| model | acts+saliency ms | IG 50 ms | gradcam ms | occlusion ms | PCA 5k s "
        "| t-SNE s (points) | cached s | RSS growth MB / calls | hooks left |"
    )
    print(header)
    print("|---" * 10 + "|")
    rows = []
    for name in args.models.split(","):
        row = bench_model(name, args.checkpoints, raw, args)
        rows.append(row)
        print(
            f"| {name} | {row['activations_saliency_ms']:.1f} "
            f"| {row['integrated_gradients_50_ms']:.1f} | {_fmt(row['gradcam_ms'], '.1f')} "
            f"| {row['occlusion_ms']:.1f} | {row['pca_5000_s']:.2f} "
            f"| {row['tsne_s']:.1f} ({row['tsne_points']}) | {row['tsne_cached_s']:.3f} "
            f"| {row['memory_growth_mb']:+.1f} / {row['calls']} | {row['hooks_left']} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0
