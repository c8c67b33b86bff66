"""Training timelines (issue 28, item 3): the step schedule, the capture in `fit` on real MNIST,
the file beside the checkpoint (saved, loaded, validated, refused with a reason), the size cap
that thins the steps, and jobs that keep one whichever executor trains them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import ConfigError, TimelineError
from mnist_core.jobs import JobManager
from mnist_core.jobs.executors.choose import create_executor
from mnist_core.models.inference import predict
from mnist_core.settings import TIMELINE_MAX_MB_ENV, Settings, load_settings
from mnist_core.storage.checkpoints import make_checkpoint
from mnist_core.storage.store import ModelStore
from mnist_core.storage.timelines import (
    load_timeline,
    read_limit,
    timeline_bytes,
    timeline_from_bytes,
    timeline_path,
)
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.events import RunEnded, StepMetrics
from mnist_core.train.loop import build_model, fit
from mnist_core.train.recipes import preset_model, preset_settings
from mnist_core.train.timeline import (
    POINTS,
    Timeline,
    TimelineRecorder,
    points_within,
    state_bytes,
    timeline_steps,
)

BIG_CAP = 100_000_000


def small(model: str = "lenet5", **kw) -> TrainConfig:
    """20 steps of 32 images: a second or two on 2 cores."""
    base = dict(train_subset=640, val_size=200, epochs=1, batch_size=32, eval_test=False)
    return TrainConfig.for_model(model, **{**base, **kw})


def record(config: TrainConfig, raw: MnistRaw, cap: int = BIG_CAP, **kw):
    recorder = TimelineRecorder(cap)
    model = build_model(config)
    events = list(fit(config, raw, model=model, timeline=recorder, dynamics=False, **kw))
    return recorder, model, events


# ---- the schedule ---------------------------------------------------------------------------


def test_the_schedule_is_16_log_spaced_steps_from_0_to_the_end() -> None:
    steps = timeline_steps(938)
    assert steps == (0, 1, 2, 3, 4, 7, 12, 19, 31, 50, 81, 133, 216, 353, 575, 938)
    assert len(timeline_steps(30_000)) == POINTS == 16
    # Evenly spaced on a log scale: past the rounding at the start, each step is ~1.63x the last.
    ratios = [b / a for a, b in itertools.pairwise(steps[6:])]
    assert all(abs(r - 938 ** (1 / 14)) < 0.06 for r in ratios), ratios


@pytest.mark.parametrize("total", [1, 2, 5, 24, 100, 450, 4_300, 100_000])
def test_every_schedule_starts_at_0_ends_at_the_end_and_increases(total: int) -> None:
    steps = timeline_steps(total)
    assert steps[0] == 0 and steps[-1] == total
    assert all(b > a for a, b in itertools.pairwise(steps))
    assert len(steps) == min(POINTS, total + 1)  # a short run keeps every step it has


def test_fewer_points_keep_the_ends() -> None:
    assert timeline_steps(1000, 2) == (0, 1000)
    assert timeline_steps(1000, 5) == (0, 1, 10, 100, 1000)
    assert timeline_steps(0) == (0,)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            timeline_steps(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        timeline_steps(10, 1)


def test_the_cap_thins_the_steps_rather_than_dropping_them() -> None:
    assert points_within(1_000, 16_000) == 16
    assert points_within(1_000, 1_000_000) == 16  # never more than asked for
    assert points_within(1_000, 5_999) == 5
    assert points_within(1_000, 2_000) == 2
    assert points_within(1_000, 1_999) == 0  # step 0 and the end do not fit: none


# ---- capture in fit, on real digits ------------------------------------------------------


def test_fit_keeps_step_0_the_planned_steps_and_exactly_the_final_weights(raw: MnistRaw) -> None:
    config = small()
    untrained = build_model(config).state_dict()
    recorder, model, events = record(config, raw)
    timeline = recorder.timeline()
    assert timeline is not None and recorder.note == ""
    assert timeline.steps == timeline_steps(20) == (*range(12), 13, 15, 17, 20)
    assert timeline.total_steps == 20 and timeline.model == "lenet5"
    # Step 0 is before the first update: the initial weights, bit for bit.
    assert all(torch.equal(timeline.states[0][k], untrained[k]) for k in untrained)
    # The end is the trained model itself.
    final = model.state_dict()
    assert all(torch.equal(timeline.states[-1][k], final[k]) for k in final)
    # Step 1 differs from step 0 (one update happened between them).
    last_weight = list(untrained)[-2]  # the output layer's weight matrix
    assert not torch.equal(timeline.states[1][last_weight], timeline.states[0][last_weight])
    # The snapshots are copies: training on does not change them.
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert not torch.equal(timeline.states[-1]["1.weight"], model.state_dict()["1.weight"])
    ended = events[-1]
    assert isinstance(ended, RunEnded) and ended.status == "finished" and ended.step == 20


def test_a_model_at_step_0_guesses_and_at_the_end_predicts_as_the_model(raw: MnistRaw) -> None:
    recorder, model, _ = record(small(), raw)
    timeline = recorder.timeline()
    assert timeline is not None
    digits = raw.test_images[:500].float() / 255
    chance = predict(timeline.model_at(0), digits)
    # Every digit gets 10 +- 5% from the untrained LeNet-5, on each of 500 real test digits.
    assert np.all(np.abs(chance - 0.1) < 0.05), (chance.min(), chance.max())
    last = predict(timeline.model_at(timeline.final_step), digits)
    assert np.array_equal(last, predict(model.eval(), digits))  # exactly: the same weights
    with pytest.raises(TimelineError, match="no step 5000"):
        timeline.model_at(5000)


@pytest.mark.parametrize("arch", ["mlp", "lenet5", "resnet", "speednet"])
def test_every_architecture_starts_near_chance_on_real_digits(raw: MnistRaw, arch: str) -> None:
    """Step 0 is chance for each architecture's default initialisation (seed 0): measured on
    1,000 real test digits, every probability lies within 10 +- 5% (MLP 7.1-14.1% on 2,000,
    LeNet-5 8.5-11.5%, ResNet 6.3-14.9%, SpeedNet 8.3-12.0%)."""
    model = build_model(TrainConfig.for_model(arch)).eval()
    probs = predict(model, raw.test_images[:1000].float() / 255)
    assert np.all(np.abs(probs - 0.1) < 0.05), (arch, probs.min(), probs.max())


def test_a_stopped_run_ends_its_timeline_at_the_stop(raw: MnistRaw) -> None:
    config = small(log_every=1)
    control = TrainControl()
    recorder = TimelineRecorder(BIG_CAP)
    model = build_model(config)
    for event in fit(config, raw, model=model, control=control, timeline=recorder):
        if isinstance(event, StepMetrics) and event.step == 6:
            control.request_stop()
    assert isinstance(event, RunEnded) and event.status == "stopped"
    timeline = recorder.timeline()
    assert timeline is not None
    assert timeline.steps[-1] == event.step == 6  # planned 0..6 are all kept
    final = model.state_dict()
    assert all(torch.equal(timeline.states[-1][k], final[k]) for k in final)


def test_a_small_cap_keeps_fewer_steps_and_says_so(raw: MnistRaw) -> None:
    config = small()
    each = state_bytes(build_model(config).state_dict())
    recorder, _, _ = record(config, raw, cap=5 * each + 10)
    timeline = recorder.timeline()
    assert timeline is not None and timeline.steps == timeline_steps(20, 5) == (0, 1, 3, 7, 20)
    assert timeline.nbytes <= 5 * each + 10
    assert "keeps 5 steps, not 16" in recorder.note and "MNIST_TIMELINE_MAX_MB" in recorder.note
    assert timeline.note == recorder.note

    none, _, _ = record(config, raw, cap=each)  # one snapshot fits, two do not
    assert none.timeline() is None
    assert "No training timeline" in none.note and "MB cap" in none.note


def test_a_timeline_refuses_steps_that_do_not_make_sense() -> None:
    state = {"w": torch.zeros(2)}
    with pytest.raises(TimelineError, match="start at 0"):
        Timeline("mlp", {}, (1, 2), (state, state), 2)
    with pytest.raises(TimelineError, match="at least 2"):
        Timeline("mlp", {}, (0,), (state,), 2)
    with pytest.raises(TimelineError, match="same weights"):
        Timeline("mlp", {}, (0, 1), (state, {"v": torch.zeros(2)}), 1)


# ---- files beside the checkpoint ---------------------------------------------------------


@pytest.fixture(scope="module")
def trained(raw: MnistRaw) -> tuple[TrainConfig, torch.nn.Module, Timeline]:
    config = small()
    recorder, model, _ = record(config, raw)
    timeline = recorder.timeline()
    assert timeline is not None
    return config, model, timeline


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(pretrained_dir=tmp_path / "pretrained", runs_dir=tmp_path / "runs")


def test_the_store_saves_loads_and_deletes_a_timeline_beside_its_model(
    trained, store: ModelStore, raw: MnistRaw
) -> None:
    config, model, timeline = trained
    ckpt = make_checkpoint(model, config, {"test_accuracy": 0.5}, name="slow")
    saved = store.save(ckpt, "ann", "slow", timeline=timeline)
    path = timeline_path(saved.path)
    assert path.name == f"{saved.path.stem}.timeline.pt" and path.is_file()
    assert [m.id for m in store.list("ann")] == [saved.id]  # the timeline is no model
    loaded = store.timeline(saved.id)
    assert loaded.timeline is not None and loaded.reason == ""
    assert loaded.timeline.steps == timeline.steps
    digits = raw.test_images[:200].float() / 255
    at_end = predict(loaded.timeline.model_at(loaded.timeline.final_step), digits)
    assert np.array_equal(at_end, predict(store.load(saved.id).build_model(), digits))
    assert store.timeline(saved.id) is loaded  # cached
    store.delete(saved.id, "ann")
    assert not path.exists()


def test_a_model_saved_without_a_timeline_says_why(trained, store: ModelStore) -> None:
    config, model, _ = trained
    saved = store.save(make_checkpoint(model, config, name="plain"), "ann", "plain")
    loaded = store.timeline(saved.id)
    assert loaded.timeline is None and "no training timeline" in loaded.reason


def test_a_damaged_or_foreign_timeline_is_no_timeline_with_a_reason(
    trained, store: ModelStore, raw: MnistRaw
) -> None:
    config, model, timeline = trained
    saved = store.save(make_checkpoint(model, config, name="a"), "ann", "a", timeline=timeline)
    path = timeline_path(saved.path)
    good = path.read_bytes()

    path.write_bytes(good[: len(good) // 2])  # truncated
    assert "truncated or damaged" in store.timeline(saved.id).reason

    path.write_bytes(b"not a timeline at all")
    assert store.timeline(saved.id).timeline is None

    # Another run's timeline (another seed: other final weights) does not belong to it.
    other, _, _ = record(small(seed=1), raw)
    path.write_bytes(timeline_bytes(other.timeline()))
    assert "belongs to another training run" in store.timeline(saved.id).reason

    # A pickle that would run code is refused (the weights-only loader builds no objects).
    import pickle

    path.write_bytes(pickle.dumps({"format": Path("x")}))
    assert store.timeline(saved.id).timeline is None

    path.write_bytes(good)  # and the good file loads again
    assert store.timeline(saved.id).timeline is not None


def test_a_timeline_over_the_cap_is_not_read(trained, tmp_path: Path) -> None:
    config, model, timeline = trained
    ckpt = make_checkpoint(model, config)
    path = tmp_path / "m.timeline.pt"
    path.write_bytes(timeline_bytes(timeline))
    loaded = load_timeline(path, ckpt, max_bytes=1000)
    assert loaded.timeline is None and "MNIST_TIMELINE_MAX_MB" in loaded.reason
    assert load_timeline(path, ckpt, max_bytes=read_limit(timeline.nbytes)).timeline is not None


def test_bytes_round_trip_and_validation(trained) -> None:
    _, _, timeline = trained
    back = timeline_from_bytes(timeline_bytes(timeline))
    assert back.steps == timeline.steps and back.model_kwargs == timeline.model_kwargs
    assert all(
        torch.equal(a[k], b[k])
        for a, b in zip(back.states, timeline.states, strict=True)
        for k in a
    )
    with pytest.raises(TimelineError, match="empty"):
        timeline_from_bytes(b"")


# ---- the setting --------------------------------------------------------------------------


def test_the_cap_is_a_setting() -> None:
    assert Settings().timeline_max_mb == 16.0
    assert load_settings({TIMELINE_MAX_MB_ENV: "2.5"}).timeline_max_bytes == 2_500_000
    assert load_settings({TIMELINE_MAX_MB_ENV: "0"}).timeline_max_bytes == 0
    for bad in ("-1", "abc", "inf", "nan"):
        with pytest.raises(ConfigError, match=TIMELINE_MAX_MB_ENV):
            load_settings({TIMELINE_MAX_MB_ENV: bad})


def test_the_default_cap_keeps_every_shipped_architecture_whole() -> None:
    for arch in ("mlp", "lenet5", "resnet", "speednet"):
        each = state_bytes(build_model(TrainConfig.for_model(arch)).state_dict())
        assert points_within(each, Settings().timeline_max_bytes) == POINTS, arch


def test_the_slow_motion_preset_trains_lenet5_in_many_small_steps() -> None:
    model = preset_model("slow motion", "mlp")
    config = TrainConfig.for_model(model, **preset_settings("slow motion"))
    assert model == "lenet5" and config.optimizer == "sgd" and config.batch_size == 32
    steps = math.ceil(config.train_subset / config.batch_size)
    assert steps == 450 and config.eval_every == 3
    assert len(timeline_steps(steps)) == POINTS


# ---- jobs: every run trained in the app keeps one -------------------------------------------


@pytest.fixture(params=["thread", "process"])
def manager(request, raw: MnistRaw, store: ModelStore) -> Iterator[JobManager]:
    executor = create_executor(request.param, warm=0)
    made = JobManager(1, data=lambda: raw, store=store, executor=executor, threads_per_job=1)
    yield made
    made.shutdown(timeout=10)
    executor.shutdown()


def test_a_job_saves_its_timeline_whichever_executor_trains_it(
    manager: JobManager, store: ModelStore, raw: MnistRaw
) -> None:
    job = manager.submit(small(), owner="ann")
    assert manager.wait(job, timeout=120)
    snap = manager.snapshot(job)
    assert snap.status == "finished" and snap.checkpoint_id, snap.message
    loaded = store.timeline(snap.checkpoint_id)
    assert loaded.timeline is not None, loaded.reason
    assert loaded.timeline.steps == timeline_steps(20)
    digits = raw.test_images[:200].float() / 255
    chance = predict(loaded.timeline.model_at(0), digits)
    assert np.all(np.abs(chance - 0.1) < 0.05)
    final = store.load(snap.checkpoint_id).build_model()
    assert np.array_equal(predict(loaded.timeline.model_at(20), digits), predict(final, digits))


def test_no_timeline_when_the_cap_is_0(
    monkeypatch: pytest.MonkeyPatch, raw: MnistRaw, store: ModelStore
) -> None:
    monkeypatch.setenv(TIMELINE_MAX_MB_ENV, "0")
    manager = JobManager(1, data=lambda: raw, store=store, threads_per_job=1)
    try:
        job = manager.submit(small(), owner="ann")
        assert manager.wait(job, timeout=120)
        snap = manager.snapshot(job)
        assert snap.checkpoint_id and store.timeline(snap.checkpoint_id).timeline is None
    finally:
        manager.shutdown(timeout=10)
