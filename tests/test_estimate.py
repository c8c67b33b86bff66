"""Time estimates before Start and in the queue (mnist_core.train.estimate; issue 11, item 16)."""

from __future__ import annotations

import math

import pytest

from mnist_core.train.config import TrainConfig
from mnist_core.train.estimate import (
    MNIST_TEST_SIZE,
    Speed,
    is_measuring,
    known_speed,
    measure_speed,
    measure_speed_soon,
    observed_speed,
    queue_wait_seconds,
    remember_speed,
    run_seconds,
)


def test_first_in_line_waits_for_the_running_job() -> None:
    assert queue_wait_seconds([540.0], [], slots=1) == 540.0


def test_jobs_ahead_add_up_on_one_slot() -> None:
    assert queue_wait_seconds([300.0], [240.0, 60.0], slots=1) == 600.0


def test_two_slots_take_the_slot_that_frees_first() -> None:
    # Slots free at 100 and 500; the job ahead runs 100..150, ours then starts at 150.
    assert queue_wait_seconds([500.0, 100.0], [50.0], slots=2) == 150.0
    # Two ahead: 100..150 and 150..200 on the first slot; ours starts at 200.
    assert queue_wait_seconds([100.0, 500.0], [50.0, 50.0], slots=2) == 200.0


def test_a_free_slot_means_no_wait() -> None:
    assert queue_wait_seconds([], [], slots=1) == 0.0
    assert queue_wait_seconds([300.0], [], slots=2) == 0.0


def test_more_running_than_slots_waits_for_the_surplus_to_end() -> None:
    # Three running, two slots (the limit was lowered): a slot frees when two have ended.
    assert queue_wait_seconds([10.0, 20.0, 30.0], [], slots=2) == 20.0


def test_an_unknown_figure_gives_no_estimate() -> None:
    assert queue_wait_seconds([None], [], slots=1) is None
    assert queue_wait_seconds([10.0], [math.inf], slots=1) is None
    with pytest.raises(ValueError):
        queue_wait_seconds([], [], slots=0)


def test_run_seconds_counts_every_image_including_evaluation() -> None:
    speed = Speed(train_images_per_s=1000.0, eval_images_per_s=5000.0)
    config = TrainConfig.for_model("mlp", epochs=2, train_subset=10_000, val_size=5000)
    expected = 2 * 10_000 / 1000 + 2 * (5000 + MNIST_TEST_SIZE) / 5000
    assert run_seconds(config, speed, startup_s=0.0) == pytest.approx(expected)
    # Without the per-epoch test evaluation, the final weights are still tested once.
    no_test = config.replace(eval_test=False)
    expected = 2 * 10_000 / 1000 + (2 * 5000 + MNIST_TEST_SIZE) / 5000
    assert run_seconds(no_test, speed, startup_s=0.0) == pytest.approx(expected)


def test_speed_is_measured_once_per_setup() -> None:
    config = TrainConfig.for_model("mlp", batch_size=64)
    speed = measure_speed(config, threads=1)
    assert speed.train_images_per_s > 0 and math.isfinite(speed.train_images_per_s)
    assert speed.eval_images_per_s > 0 and math.isfinite(speed.eval_images_per_s)
    assert measure_speed(config.replace(epochs=3, lr=0.01), threads=1) is speed  # cached
    wider = config.replace(model_kwargs={"hidden": (512, 512)})
    assert measure_speed(wider, threads=1) is not speed  # another architecture: measured


def test_a_finished_run_teaches_the_estimate_its_real_speed() -> None:
    from mnist_core.train.events import RunEnded, RunStarted

    config = TrainConfig.for_model("mlp", epochs=2, train_subset=1000, val_size=1000)
    started = RunStarted("cpu", "CPU", 1, n_train=1000, n_val=1000, n_test=10_000,
                         steps_per_epoch=8, total_steps=16)  # fmt: skip
    ended = RunEnded("finished", "", 16, 2, train_seconds=4.0, eval_seconds=11.0,
                     test_accuracy=0.9, val_accuracy=0.9)  # fmt: skip
    speed = observed_speed(config, started, ended)
    assert speed == Speed(train_images_per_s=500.0, eval_images_per_s=2000.0)
    remember_speed(config, speed, threads=1)
    assert measure_speed(config, threads=1) is speed
    assert run_seconds(config, speed, startup_s=0.0) == pytest.approx(15.0)
    stopped = RunEnded("stopped", "", 5, 0, 1.0, 0.0, None, None)
    assert observed_speed(config, started, stopped) is None


def test_a_speed_can_be_measured_without_waiting_for_it() -> None:
    import time

    config = TrainConfig.for_model("mlp", batch_size=48, train_subset=500, val_size=500)
    assert known_speed(config, threads=1) is None
    measure_speed_soon(config, threads=1)  # returns at once; a thread measures
    measure_speed_soon(config, threads=1)  # already under way: nothing more
    deadline = time.monotonic() + 120
    while known_speed(config, threads=1) is None:  # the real condition, not a timing
        assert time.monotonic() < deadline, "the background measurement never finished"
        time.sleep(0.1)
    assert known_speed(config, threads=1) is measure_speed(config, threads=1)


def test_no_speed_is_measured_while_a_run_trains() -> None:
    import time

    config = TrainConfig.for_model("mlp", batch_size=40, train_subset=500, val_size=500)
    measure_speed_soon(config, threads=1, busy=lambda: True)
    deadline = time.monotonic() + 120
    while is_measuring(config, threads=1):  # the thread gives way and ends
        assert time.monotonic() < deadline, "the background thread never ended"
        time.sleep(0.05)
    assert known_speed(config, threads=1) is None
    # A run that starts during a measurement: the measurement is abandoned at its next step.
    calls = iter([False, False, True])  # before the thread, at its start, at the first step
    measure_speed_soon(config, threads=1, busy=lambda: next(calls, True))
    while is_measuring(config, threads=1):
        assert time.monotonic() < deadline, "the background thread never ended"
        time.sleep(0.05)
    assert known_speed(config, threads=1) is None
