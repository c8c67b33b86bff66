"""A run's weights without threads: checkpoints, saving and releasing, on real MNIST images.

`RunWeights` is driven here as the runner's worker would drive it, with a `JobState` fed
synthetic events; the model is a real (untrained) MLP and the store a real one in tmp_path.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import CheckpointError
from mnist_core.jobs.snapshot import JobState
from mnist_core.jobs.weights import RunWeights, save_to_store
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig
from mnist_core.train.evaluation import evaluate
from mnist_core.train.events import RunEnded, RunStarted, StepMetrics
from mnist_core.train.loop import build_model

CONFIG = TrainConfig.for_model("mlp", train_subset=1000, val_size=500, batch_size=100, epochs=2)


@pytest.fixture(scope="module")
def test_set(raw: MnistRaw) -> tuple[torch.Tensor, torch.Tensor]:
    return raw.test_images[:500], raw.test_labels[:500]


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(pretrained_dir=tmp_path / "pretrained", runs_dir=tmp_path / "runs")


class Run:
    """A JobState and its RunWeights, moved through a run by hand (no worker thread)."""

    def __init__(self, store: ModelStore | None, test_set, device: str = "cpu") -> None:
        self.state = JobState(CONFIG, job_id="j", owner="ann", name="mlp #1", created=0.0)
        self.lock = threading.Lock()
        self.weights = RunWeights(self.state, self.lock, threading.Lock(), store)
        self.model = build_model(CONFIG)
        assert self.state.start(now=1.0)
        with self.lock:
            self.weights.attach(self.model, test_set)
        started = RunStarted(device, device, 1000, 1000, 500, 500, 10, 20)
        self.state.apply(started, now=1.0)
        self.state.apply(StepMetrics(5, 0.5, 1.0, 1e-3, 1000.0, 0.5), now=2.0)

    def end(self, status: str, test_accuracy: float | None = None) -> RunEnded:
        event = RunEnded(status, f"{status}.", 5, 0, 0.5, 0.0, test_accuracy, None)  # type: ignore[arg-type]
        with self.lock:
            self.state.apply(event, now=3.0)
            if self.state.done:
                self.weights.after_done()
        return event

    def stopped(self) -> Run:
        assert self.state.request_stop(None, now=2.5) == "stopping"
        self.end("stopped")
        return self


def test_a_live_model_is_copied_without_being_shared(test_set) -> None:
    run = Run(None, test_set)
    copy = run.weights.model_copy()
    assert copy is not None and copy is not run.model and not copy.training
    x = test_set[0][:20].unsqueeze(1).float() / 255
    with torch.no_grad():
        assert torch.equal(copy(x), run.model.eval()(x))
    assert run.weights.checkpoint() is None  # still running: no checkpoint yet
    assert not run.weights.kept  # not done


def test_a_stopped_run_is_measured_once_and_keeps_one_copy(test_set) -> None:
    run = Run(None, test_set).stopped()
    assert run.weights.kept and run.weights.model is run.model
    ckpt = run.weights.checkpoint()
    assert ckpt is not None and ckpt.name == "mlp #1" and ckpt.metrics["status"] == "stopped"
    accuracy = evaluate(run.model, *test_set).accuracy
    assert ckpt.metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    # The checkpoint replaces the live model: one copy of the weights for a done run.
    assert run.weights.model is None and run.weights.kept_checkpoint is ckpt
    assert run.weights.checkpoint() is ckpt and run.weights.kept
    assert run.weights.model_copy() is not None


def test_saving_a_stopped_run_drops_its_weights_and_reads_them_back(store, test_set) -> None:
    run = Run(store, test_set).stopped()
    saved_id = run.weights.save()
    assert saved_id == "runs/ann/mlp-1" == run.state.checkpoint_id
    assert run.weights.save("other name") == saved_id  # saved once
    assert run.weights.model is None and run.weights.kept_checkpoint is None
    assert not run.weights.kept
    assert run.weights.checkpoint().metrics == store.load(saved_id).metrics
    assert run.weights.model_copy() is not None
    store.delete(saved_id, "ann")
    assert run.weights.checkpoint() is None and run.weights.model_copy() is None


def test_saving_needs_a_store_and_weights(test_set) -> None:
    with pytest.raises(CheckpointError, match="no model store"):
        Run(None, test_set).stopped().weights.save()


def test_a_released_run_drops_its_weights_once_it_is_done(store, test_set) -> None:
    run = Run(store, test_set)
    run.weights.release()
    assert run.weights.model is run.model  # still training: fit needs it
    run.stopped()
    assert run.weights.model is None and run.weights.checkpoint() is None
    with pytest.raises(CheckpointError, match="stopped and its weights were released"):
        run.weights.save()


@pytest.mark.parametrize("status", ["diverged", "failed"])
def test_useless_weights_are_dropped_as_the_run_ends(test_set, status: str) -> None:
    run = Run(None, test_set)
    if status == "failed":
        with run.lock:
            run.state.fail("boom", "boom", "tb", now=3.0)
            run.weights.after_done()
    else:
        run.end("diverged")
    assert run.state.status == status
    assert run.weights.model is None and run.weights.test_set is None
    assert run.weights.checkpoint() is None and not run.weights.kept


def test_a_finished_run_is_saved_and_then_holds_no_weights(store, test_set) -> None:
    run = Run(store, test_set)
    event = run.end("finished", test_accuracy=0.25)
    assert run.state.status == "running"  # finished only once saved
    run.weights.finish(event)
    assert run.state.status == "finished" and run.state.checkpoint_id == "runs/ann/mlp-1"
    assert run.state.save_error is None and not run.weights.kept
    assert store.load("runs/ann/mlp-1").metrics["test_accuracy"] == 0.25


def test_a_finished_run_whose_save_fails_keeps_its_checkpoint(store, test_set, monkeypatch):
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    run = Run(store, test_set)
    run.weights.finish(run.end("finished", test_accuracy=0.25))
    assert run.state.status == "finished" and run.state.checkpoint_id is None
    assert "No space left on device" in run.state.save_error
    assert run.weights.kept and run.weights.model is None
    assert run.weights.checkpoint() is run.weights.kept_checkpoint
    monkeypatch.undo()
    assert run.weights.save() == "runs/ann/mlp-1" and not run.weights.kept


def test_a_run_trained_off_the_cpu_states_the_cpu_test_accuracy(test_set) -> None:
    # A GPU measures in bfloat16; the checkpoint and the final event give the float32 figure.
    run = Run(None, test_set, device="cuda:0")  # the model itself stays on the CPU here
    run.weights.finish(run.end("finished", test_accuracy=0.123))
    accuracy = evaluate(run.model, *test_set).accuracy
    assert run.state.ended.test_accuracy == pytest.approx(accuracy, abs=1e-6)
    ckpt = run.weights.checkpoint()
    assert ckpt.metrics["test_accuracy"] == run.state.ended.test_accuracy


def test_save_to_store_reports_instead_of_raising(store, test_set, monkeypatch) -> None:
    ckpt = Run(None, test_set).stopped().weights.checkpoint()
    assert save_to_store(None, ckpt, "ann", "x") == (None, None)
    assert save_to_store(store, ckpt, "not a slug!", "x")[0] is None
    monkeypatch.setattr(store, "save", lambda *a, **kw: 1 / 0)  # a bug in saving
    assert save_to_store(store, ckpt, "ann", "x") == (
        None,
        "Could not save the model: ZeroDivisionError: division by zero",
    )
