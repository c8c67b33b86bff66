"""What a benchmark worker measures: one (model, seed) trained to its targets, then its
prediction latency; or one peer's training throughput. Each runs in its own process (see
`bench.time_to_accuracy.worker`) and returns a JSON-ready dict."""

from __future__ import annotations

import resource
import sys
import threading
import time
from typing import Any

import numpy as np
import torch

from bench.peers import PEERS, create_peer
from bench.progress import log
from bench.time_to_accuracy.settings import LATENCY_WARMUP, PEER_WARMUP_STEPS
from mnist_core.data.mnist import load_mnist, make_splits
from mnist_core.machine import device_name, pick_device
from mnist_core.models import count_parameters
from mnist_core.models.inference import predict
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.events import EpochMetrics, RunEnded, RunStarted
from mnist_core.train.loop import build_model, fit


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024  # bytes on macOS


def latency_ms(model: Any, image: Any, samples: int) -> dict[str, float]:
    """p50/p95/mean of `predict(model, image)` over `samples` calls after LATENCY_WARMUP."""
    for _ in range(LATENCY_WARMUP):
        predict(model, image)
    times = np.empty(samples)
    for i in range(samples):
        t0 = time.perf_counter()
        predict(model, image)  # ends with .cpu(): on a GPU this waits for the result
        times[i] = time.perf_counter() - t0
    times *= 1000.0
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "mean": float(times.mean()),
        "n": samples,
    }


def time_training(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one (model, seed), timing each target; then time predictions."""
    config = TrainConfig.from_dict(spec["config"])
    raw = load_mnist(spec["data_dir"])
    control = TrainControl()
    timer = threading.Timer(max(0.0, spec["deadline"] - time.time()), control.request_stop)
    timer.daemon = True
    timer.start()
    targets: list[float] = spec["targets"]
    hits: list[dict[str, Any]] = [
        {"target": t, "train_seconds": None, "wall_seconds": None, "epoch": None} for t in targets
    ]
    epochs: list[dict[str, Any]] = []
    started: RunStarted | None = None
    ended: RunEnded | None = None
    model = build_model(config)
    # The first optimiser built in a process imports torch._dynamo (about 1.5 s on a CPU): do
    # it now so that the wall seconds measure training and evaluation, not Python imports.
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    t0 = time.perf_counter()
    for ev in fit(config, raw, model=model, control=control):
        if isinstance(ev, RunStarted):
            started = ev
        elif isinstance(ev, EpochMetrics):
            wall = time.perf_counter() - t0
            acc = ev.test_accuracy
            epochs.append(
                {
                    "epoch": ev.epoch,
                    "test_accuracy": acc,
                    "train_loss": ev.train_loss,
                    "train_seconds": ev.train_seconds,
                    "eval_seconds": ev.eval_seconds,
                    "wall_seconds": wall,
                }
            )
            for h in hits:
                if h["epoch"] is None and acc is not None and acc >= h["target"]:
                    h.update(train_seconds=ev.train_seconds, wall_seconds=wall, epoch=ev.epoch)
            log(
                f"    {config.model} seed {config.seed} epoch {ev.epoch}/{config.epochs}: "
                f"test {acc:.2%}, {ev.train_seconds:.1f} s training, {wall:.1f} s wall"
            )
        elif isinstance(ev, RunEnded):
            ended = ev
    wall_s = time.perf_counter() - t0
    timer.cancel()
    assert started is not None and ended is not None
    # Images trained: whole epochs, plus the full batches of an epoch cut short (a stop is
    # only honoured before a step, so a cut epoch never includes its short last batch).
    partial_steps = ended.step - ended.epochs_done * started.steps_per_epoch
    images = ended.epochs_done * started.n_train + partial_steps * config.batch_size
    image = (raw.test_images[0].float() / 255.0).numpy()  # (28,28) float32, a real "7"
    result = {
        "status": {"finished": "finished", "stopped": "cut", "diverged": "diverged"}[ended.status],
        "config": config.to_dict(),
        "device": started.device,
        "device_name": started.device_name,
        "n_params": started.n_params,
        "n_train": started.n_train,
        "epochs_done": ended.epochs_done,
        "steps": ended.step,
        "final_test_accuracy": ended.test_accuracy,
        "train_seconds": ended.train_seconds,
        "eval_seconds": ended.eval_seconds,
        "wall_seconds": wall_s,
        "images_trained": images,
        "train_images_per_s": images / ended.train_seconds if ended.train_seconds > 0 else None,
        "targets": hits,
        "epochs": epochs,
        "latency_ms": latency_ms(model, image, spec["latency_samples"]),
    }
    if ended.status == "diverged":
        result["error"] = ended.message
    return result


def time_peer(spec: dict[str, Any]) -> dict[str, Any]:
    """Time a peer's training steps for spec['seconds'] after PEER_WARMUP_STEPS."""
    peer = PEERS[spec["name"]]
    device = pick_device(spec["device"])
    raw = load_mnist(spec["data_dir"])
    splits = make_splits(raw, val_size=spec["val_size"], train_subset=spec["train_subset"])
    splits = splits.to(device)
    model = create_peer(peer.name).to(device).train()
    opt = peer.optimizer(model)
    n = splits.n_train
    bs = min(spec["batch_size"], n)
    gen = torch.Generator(device=device).manual_seed(0)
    torch.manual_seed(0)  # dropout
    cuda = device.type == "cuda"
    order = torch.randperm(n, generator=gen, device=device)
    pos = 0
    last_loss = torch.zeros((), device=device)

    def step() -> None:
        nonlocal order, pos, last_loss
        if pos + bs > n:  # a new epoch: reshuffle (full batches only, like a steady state)
            order, pos = torch.randperm(n, generator=gen, device=device), 0
        idx = order[pos : pos + bs]
        pos += bs
        x = splits.train_x[idx].unsqueeze(1).float().div_(255)  # (B,1,28,28) in [0,1]
        y = splits.train_y[idx]  # (B,)
        loss = peer.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last_loss = loss.detach()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for _ in range(PEER_WARMUP_STEPS):
        step()
    sync()
    budget = min(float(spec["seconds"]), spec["deadline"] - time.time())
    steps, t0 = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if cuda and steps % 20:  # on a GPU check the clock (a sync) every 20 steps only
            continue
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= budget:
            break
    cut = budget < float(spec["seconds"])
    return {
        "status": "cut" if cut else "finished",
        "title": peer.title,
        "description": peer.description,
        "device": str(device),
        "device_name": device_name(device),
        "params": count_parameters(model),
        "expected_params": peer.expected_params,
        "batch_size": bs,
        "optimizer": type(opt).__name__,
        "warmup_steps": PEER_WARMUP_STEPS,
        "steps": steps,
        "seconds": elapsed,
        "images_per_s": steps * bs / elapsed,
        "last_loss": float(last_loss),
    }
