"""Training dynamics recorded by `fit` (per-layer norms and update ratios at each logged step,
weight histograms per epoch), on real MNIST."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from mnist_core.data.mnist import MnistRaw, make_splits
from mnist_core.train.config import TrainConfig
from mnist_core.train.dynamics import HISTOGRAM_BINS, DynamicsProbe, tracked_weights
from mnist_core.train.events import EpochMetrics, RunEnded, StepMetrics
from mnist_core.train.loop import build_model, fit


def _run(
    raw: MnistRaw, model: str, dynamics: bool = True, **kw: object
) -> tuple[torch.nn.Module, list]:
    """Two short epochs of 10 steps; the final test evaluation on 500 test digits."""
    config = TrainConfig.for_model(
        model, epochs=2, train_subset=640, val_size=0, eval_test=False, batch_size=64, **kw
    )
    splits = make_splits(raw, val_size=0, train_subset=640, seed=config.seed)
    splits = dataclasses.replace(splits, test_x=splits.test_x[:500], test_y=splits.test_y[:500])
    net = build_model(config)
    return net, list(fit(config, splits, model=net, dynamics=dynamics))


@pytest.mark.parametrize("arch", ["mlp", "lenet5", "resnet"])
def test_each_logged_step_has_every_weighted_layer(raw: MnistRaw, arch: str) -> None:
    net, events = _run(raw, arch, log_every=3)
    names = [n for n, _ in tracked_weights(net)]
    assert names and all(not n.endswith("weight") for n in names)
    steps = [e for e in events if isinstance(e, StepMetrics)]
    # 10 steps per epoch, logged at 3, 6, 9 and 10, and early at 1 and 2 (curves from step 1)
    assert [s.step for s in steps] == [1, 2, 3, 6, 9, 10, 13, 16, 19, 20]
    for s in steps:
        assert [d.name for d in s.layers] == names
        for d in s.layers:
            assert math.isfinite(d.weight_norm) and d.weight_norm > 0
            assert math.isfinite(d.grad_norm) and d.grad_norm > 0
            assert 0 < d.update_ratio < 1
    ended = events[-1]
    assert isinstance(ended, RunEnded) and ended.status == "finished"
    assert 0 < ended.dynamics_seconds < ended.train_seconds


def test_plain_sgd_update_ratio_is_lr_times_gradient_over_weights(raw: MnistRaw) -> None:
    """Without momentum or weight decay an SGD step moves the weights by lr * gradient: the
    recorded ratio must be lr * grad_norm / weight_norm (before the step, which differs from
    the norm after it by at most the update itself)."""
    lr = 0.05
    _, events = _run(
        raw, "mlp", optimizer="sgd", momentum=0.0, weight_decay=0.0, lr=lr, log_every=1,
        schedule="constant",
    )  # fmt: skip
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert steps
    for s in steps:
        assert s.lr == pytest.approx(lr)
        for d in s.layers:
            expected = lr * d.grad_norm / d.weight_norm
            assert d.update_ratio == pytest.approx(expected, rel=2 * d.update_ratio + 1e-3)


def test_a_histogram_per_epoch_counts_every_weight(raw: MnistRaw) -> None:
    net, events = _run(raw, "lenet5", log_every=5)
    sizes = {n: p.numel() for n, p in tracked_weights(net)}
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert len(epochs) == 2
    for e in epochs:
        assert [h.name for h in e.histograms] == list(sizes)
        for h in e.histograms:
            assert len(h.counts) == HISTOGRAM_BINS and len(h.edges) == HISTOGRAM_BINS + 1
            assert all(b > a for a, b in zip(h.edges, h.edges[1:], strict=False))
            assert sum(h.counts) == sizes[h.name]
    last = {n: p.detach() for n, p in tracked_weights(net)}
    for h in epochs[-1].histograms:  # the last epoch's histogram is of the final weights
        assert h.edges[0] == pytest.approx(float(last[h.name].min()))
        assert h.edges[-1] == pytest.approx(float(last[h.name].max()))


def test_dynamics_off_records_nothing(raw: MnistRaw) -> None:
    _, events = _run(raw, "mlp", log_every=5, dynamics=False)
    assert all(not e.layers for e in events if isinstance(e, StepMetrics))
    assert all(not e.histograms for e in events if isinstance(e, EpochMetrics))
    assert events[-1].dynamics_seconds == 0.0


def test_probe_on_a_hand_made_step() -> None:
    layer = torch.nn.Linear(3, 2, bias=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
    probe = DynamicsProbe(torch.nn.Sequential(layer))
    assert [n for n, _ in probe.weights] == ["0"]  # the bias is not a weight matrix
    layer.weight.grad = torch.full((2, 3), 0.5)
    before = probe.before_step()
    with torch.no_grad():
        layer.weight -= 0.1 * layer.weight.grad
    (d,) = probe.after_step(before)
    assert d.grad_norm == pytest.approx(math.sqrt(6 * 0.25))
    assert d.update_ratio == pytest.approx(0.1 * math.sqrt(1.5) / 5.0)
    assert d.weight_norm == pytest.approx(float(layer.weight.detach().norm()))
