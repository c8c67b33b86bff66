"""Runs keep their history in the checkpoint (issue 14): the curves and events of a real run
round-trip through a saved file, long runs are downsampled, and checkpoints written before
the history existed still load."""

from __future__ import annotations

import io
import json

import pytest
import torch

from mnist_core.errors import CheckpointError
from mnist_core.models import create_model
from mnist_core.storage.checkpoints import (
    checkpoint_bytes,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from mnist_core.storage.history import MAX_STEP_POINTS, RunHistory, downsample
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.events import AccuracyCheck, EpochMetrics, RunEnded, RunStarted, StepMetrics
from mnist_core.train.loop import build_model, fit


@pytest.fixture(scope="module")
def real_run(raw):
    """A real 2-epoch MLP run on 2,000 images with test checks inside epochs: its events and
    model."""
    config = TrainConfig(
        model="mlp", epochs=2, train_subset=2000, val_size=500, log_every=1, eval_every=5
    )
    model = build_model(config)
    events = list(fit(config, raw, model=model, control=TrainControl()))
    return config, model, events


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_a_real_runs_history_round_trips_through_a_checkpoint(real_run, tmp_path):
    config, model, events = real_run
    started = _of(events, RunStarted)[0]
    steps, epochs, checks = (
        _of(events, StepMetrics),
        _of(events, EpochMetrics),
        _of(events, AccuracyCheck),
    )
    [ended] = _of(events, RunEnded)
    history = RunHistory.from_events(
        started=started,
        steps=steps,
        epochs=epochs,
        checks=checks,
        ended=ended,
        lr_changes=[{"step": 7, "from": 3e-3, "to": 1e-3}],
        pauses=[4],
    )
    path = save_checkpoint(make_checkpoint(model, config, {}, history=history), tmp_path / "m.pt")
    loaded = load_checkpoint(path).run_history
    assert loaded is not None
    # Exactly the events fit yielded (less the per-layer dynamics, which are not kept).
    assert [(s.step, s.loss, s.lr) for s in loaded.step_events()] == [
        (s.step, s.loss, s.lr) for s in steps
    ]
    assert len(steps) == started.total_steps  # log_every=1: a point per step
    assert [(e.epoch, e.val_accuracy, e.test_accuracy) for e in loaded.epoch_events()] == [
        (e.epoch, e.val_accuracy, e.test_accuracy) for e in epochs
    ]
    assert [c.test_accuracy for c in loaded.check_events()] == [c.test_accuracy for c in checks]
    assert len(checks) >= 2
    assert loaded.lr_changes() == [{"kind": "lr_change", "step": 7, "from": 3e-3, "to": 1e-3}]
    assert loaded.pauses() == [4]
    assert loaded.end()["status"] == "finished"
    assert loaded.steps_per_epoch == started.steps_per_epoch and loaded.n_train == 2000
    json.dumps(loaded.to_dict())  # plain types: a download as JSON works


def test_a_long_run_is_downsampled_under_200_kb():
    """200 epochs of 430 steps logged every step: 86,000 points become 1,000."""
    n = 86_000
    steps = [
        StepMetrics(i, i / 430, 2.3 / (1 + i / 1000), 1e-3, 900.0, i * 0.01)
        for i in range(1, n + 1)
    ]
    kept = downsample(steps, MAX_STEP_POINTS)
    assert len(kept) == MAX_STEP_POINTS
    assert kept[-1].step == n and kept[0].step == n // MAX_STEP_POINTS  # the end is kept
    # Each point is the mean of its window: the curve's shape survives.
    window = steps[: n // MAX_STEP_POINTS]
    assert kept[0].loss == pytest.approx(sum(s.loss for s in window) / len(window))
    epochs = [
        EpochMetrics(e, e * 430, 0.1, 0.99, 0.1, 0.99, 0.99, e * 4.3, e * 0.5)
        for e in range(1, 201)
    ]
    history = RunHistory.from_events(started=None, steps=steps, epochs=epochs)
    assert history.downsampled_from == n
    ckpt = make_checkpoint(create_model("lenet5"), TrainConfig(), {}, history=history)
    empty = make_checkpoint(create_model("lenet5"), TrainConfig(), {})
    size = len(checkpoint_bytes(ckpt)) - len(checkpoint_bytes(empty))
    assert size < 200_000, size


def test_a_diverged_loss_is_kept_as_missing_not_nan():
    steps = [
        StepMetrics(1, 0.1, 2.3, 1.0, 10.0, 0.1),
        StepMetrics(2, 0.2, float("nan"), 1.0, 10.0, 0.2),
    ]
    history = RunHistory.from_events(started=None, steps=steps, epochs=[])
    assert history.steps["loss"] == [2.3, None]
    back = RunHistory.from_dict(json.loads(json.dumps(history.to_dict())))
    assert back.step_events()[1].loss != back.step_events()[1].loss  # NaN again for charts


def test_checkpoints_without_history_still_load(tmp_path):
    """A file as written before the history existed: no "history" key at all."""
    ckpt = make_checkpoint(create_model("mlp"), TrainConfig(model="mlp"), {"test_accuracy": 0.9})
    payload = ckpt.to_payload()
    del payload["history"]
    buf = io.BytesIO()
    torch.save(payload, buf)
    loaded = load_checkpoint(buf.getvalue())
    assert loaded.run_history is None and loaded.test_accuracy == 0.9


@pytest.mark.parametrize(
    "history",
    [
        {"version": 1, "steps": {"step": [1, 2], "loss": [1.0]}},  # columns of two lengths
        {"version": 1, "steps": {"loss": ["a"]}},  # not numbers
        {"version": 99},  # a newer format
        {"version": 1, "events": ["x"]},
    ],
)
def test_a_damaged_history_is_refused_with_a_message(history):
    payload = make_checkpoint(create_model("mlp"), TrainConfig(model="mlp"), {}).to_payload()
    payload["history"] = history
    buf = io.BytesIO()
    torch.save(payload, buf)
    with pytest.raises(CheckpointError, match="training history is malformed"):
        load_checkpoint(buf.getvalue())
