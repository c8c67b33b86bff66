"""The training loop on real MNIST subsets: events, learning, determinism, divergence, control."""

import threading

import pytest
import torch

from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.evaluation import evaluate
from mnist_core.train.events import AccuracyCheck, EpochMetrics, RunEnded, RunStarted, StepMetrics
from mnist_core.train.loop import build_model, fit


def small(model="lenet5", **kw):
    base = dict(train_subset=1000, val_size=500, epochs=2, batch_size=50, log_every=5)
    return TrainConfig.for_model(model, **{**base, **kw})


def run(config, raw, **kw):
    return list(fit(config, raw, **kw))


def test_event_sequence_and_learning(raw):
    config = small("lenet5")
    model = build_model(config)
    before = evaluate(model, raw.test_images[:2000], raw.test_labels[:2000]).accuracy
    events = run(config, raw, model=model)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert events[0].n_train == 1000 and events[0].n_val == 500 and events[0].total_steps == 40
    steps = [e for e in events if isinstance(e, StepMetrics)]
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert [e.epoch for e in epochs] == [1, 2]
    # Points after steps 1, 2 and 4 too, so that the curves show from the first step on.
    assert [s.step for s in steps] == [1, 2, 4, *range(5, 41, 5)]
    assert steps[-1].loss < steps[0].loss  # the loss goes down
    assert all(s.images_per_s > 0 for s in steps)
    end = events[-1]
    assert end.status == "finished" and end.step == 40
    assert end.test_accuracy == epochs[-1].test_accuracy
    # 1,000 images and 2 epochs: far above chance, and above the untrained model
    assert end.test_accuracy > 0.75 > before
    after = evaluate(model, raw.test_images, raw.test_labels).accuracy
    assert after == pytest.approx(end.test_accuracy)


@pytest.mark.parametrize("model", ["mlp", "resnet"])
def test_other_models_learn(raw, model):
    end = run(small(model, epochs=1, eval_test=False), raw)[-1]
    assert end.status == "finished"
    assert end.test_accuracy > 0.5  # measured at the end even with eval_test off


@pytest.mark.slow
def test_same_seed_same_numbers_on_cpu(raw):
    config = small("resnet", epochs=1, train_subset=300)
    a = [e for e in run(config, raw) if isinstance(e, StepMetrics | EpochMetrics)]
    b = [e for e in run(config, raw) if isinstance(e, StepMetrics | EpochMetrics)]
    losses = lambda evs: [getattr(e, "loss", None) or e.train_loss for e in evs]  # noqa: E731
    assert losses(a) == losses(b)
    c = [e for e in run(config.replace(seed=1), raw) if isinstance(e, StepMetrics)]
    assert [e.loss for e in c] != [e.loss for e in a if isinstance(e, StepMetrics)]


def test_mse_loss_and_sgd_also_train(raw):
    end = run(small("mlp", loss="mse", optimizer="sgd", lr=2.0, epochs=2), raw)[-1]
    assert end.status == "finished" and end.test_accuracy > 0.5


def test_huge_learning_rate_diverges_with_advice(raw):
    config = small("mlp", optimizer="sgd", lr=10.0, momentum=0.99, schedule="constant")
    events = run(config, raw)
    end = events[-1]
    assert end.status == "diverged"
    assert "Lower the learning rate: it was 10." in end.message
    # it stopped at the first non-finite loss instead of finishing the epochs
    assert end.step < config.steps_per_epoch * config.epochs


def test_divergence_quotes_the_learning_rate_that_was_set(raw):
    """Issue 11, item 18: the message quoted the schedule's value at that step (0.4 during
    one-cycle's warm-up), not the 10 the person set."""
    config = small("mlp", optimizer="sgd", lr=10.0, momentum=0.99, schedule="onecycle")
    end = run(config, raw)[-1]
    assert end.status == "diverged"
    assert "Lower the learning rate: it was 10 (the schedule had it at " in end.message


def test_stop_request_ends_within_one_step(raw):
    control = TrainControl()
    events = []
    for ev in fit(small("lenet5", epochs=3), raw, control=control):
        events.append(ev)
        if isinstance(ev, StepMetrics) and ev.step == 10:
            control.request_stop()
    end = events[-1]
    assert end.status == "stopped" and end.step == 10


def test_pause_blocks_and_resume_continues(raw):
    control = TrainControl()
    gen = fit(small("mlp", epochs=1), raw, control=control)
    first_step = next(e for e in gen if isinstance(e, StepMetrics))
    control.pause()
    got = []
    t = threading.Thread(target=lambda: got.append(next(gen)), daemon=True)
    t.start()
    t.join(0.5)
    assert t.is_alive() and not got  # paused: no progress
    control.resume()
    t.join(10)
    # the next point: after steps 1, 2 and 4 come early points, then every 5 steps
    assert first_step.step == 1 and got and got[0].step == 2


def test_lr_change_takes_effect_next_step(raw):
    control = TrainControl()
    config = small("mlp", epochs=1, schedule="constant", lr=1e-3, log_every=1)
    lrs = []
    for ev in fit(config, raw, control=control):
        if isinstance(ev, StepMetrics):
            lrs.append(ev.lr)
            if ev.step == 3:
                control.set_lr(5e-4)
    assert lrs[:3] == [1e-3] * 3 and lrs[3:] == [5e-4] * (len(lrs) - 3)


def test_weights_lock_allows_copy_during_training(raw):
    control = TrainControl()
    model = build_model(small("mlp"))
    for ev in fit(small("mlp", epochs=1), raw, model=model, control=control):
        if isinstance(ev, StepMetrics):
            with control.weights_lock:
                copy = {k: v.clone() for k, v in model.state_dict().items()}
            assert all(torch.isfinite(v).all() for v in copy.values())


def test_stop_during_evaluation_is_honoured(raw):
    control = TrainControl()
    config = small("lenet5", epochs=2)
    events = []
    for ev in fit(config, raw, control=control):
        events.append(ev)
        if isinstance(ev, StepMetrics) and ev.step == config.steps_per_epoch:
            control.request_stop()  # the epoch's evaluation comes next
    assert not any(isinstance(e, EpochMetrics) for e in events)
    assert events[-1].status == "stopped" and events[-1].step == config.steps_per_epoch


def test_test_checks_inside_epochs_are_timed_apart_from_training(raw, monkeypatch):
    # 20 steps an epoch, a check every 6 steps of the run (none at an epoch's end, which
    # evaluates anyway). Checks in line, between the steps: torch's threads fill the CPUs (the
    # edge faked here; a CPU left over checks beside training, the next test).
    from mnist_core.train import loop

    monkeypatch.setattr(loop, "usable_cpus", torch.get_num_threads)
    config = small("speednet", epochs=2, eval_every=6, val_size=0)
    model = build_model(config)
    events = run(config, raw, model=model)
    checks = [e for e in events if isinstance(e, AccuracyCheck)]
    assert [c.step for c in checks] == [6, 12, 18, 24, 30, 36]
    assert [c.epoch for c in checks] == pytest.approx([s / 20 for s in (6, 12, 18, 24, 30, 36)])
    # Each check is the test accuracy of the weights at that step, on all 10,000 images.
    assert all(0.1 < c.test_accuracy <= 1 for c in checks)
    assert checks[-1].test_accuracy != checks[0].test_accuracy
    # Training seconds never include a check's time: they grow only by steps.
    seconds = [
        e.train_seconds
        for e in events
        if isinstance(e, StepMetrics | AccuracyCheck | EpochMetrics | RunEnded)
    ]
    assert seconds == sorted(seconds)
    end = events[-1]
    assert end.eval_seconds > 0 and end.train_seconds > checks[-1].train_seconds
    assert model.training  # back in train mode after each check


@pytest.fixture
def torch_threads():
    """Puts torch's thread count back after a test that sets it (`TrainConfig.threads`)."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_test_checks_beside_training_measure_the_weights_of_their_step(
    raw, monkeypatch, torch_threads
):
    # A run with a CPU left over (the app trains with 1 thread on 2 cores) checks in a thread
    # of its own while training goes on; the machine's CPUs are the edge faked here, so that
    # both ways run on any machine.
    from mnist_core.train import loop

    config = small("speednet", epochs=2, eval_every=6, val_size=0, threads=1)
    where: list[str] = []

    def spy(*args, **kwargs):
        where.append(threading.current_thread().name)
        return predict_logits(*args, **kwargs)

    predict_logits = loop.predict_logits
    monkeypatch.setattr(loop, "predict_logits", spy)
    monkeypatch.setattr(loop, "usable_cpus", lambda: 1)
    inline = run(config, raw)
    assert where and not any(n.startswith("mnist-test-check") for n in where)
    where.clear()
    monkeypatch.setattr(loop, "usable_cpus", lambda: 2)
    beside = run(config, raw)
    assert where and all(n.startswith("mnist-test-check") for n in where)

    def checks(events):
        return [(c.step, c.epoch, c.test_accuracy) for c in events if isinstance(c, AccuracyCheck)]

    # The same checks, on all 10,000 test digits, with the same weights: training never
    # waits for one to start, and none sees a later step's weights.
    assert checks(beside) == checks(inline)
    assert [c[0] for c in checks(beside)] == [6, 12, 18, 24, 30, 36]
    assert beside[-1].status == "finished"
    assert beside[-1].test_accuracy == inline[-1].test_accuracy
    # Each check is stamped with the training seconds up to its step: in step order they
    # only grow, and every check arrives before its epoch's end.
    timed = sorted(
        (e.step, e.train_seconds)
        for e in beside
        if isinstance(e, StepMetrics | AccuracyCheck | EpochMetrics)
    )
    assert [t for _, t in timed] == sorted(t for _, t in timed)
    ends = [i for i, e in enumerate(beside) if isinstance(e, EpochMetrics)]
    last_check = max(i for i, e in enumerate(beside) if isinstance(e, AccuracyCheck))
    assert last_check < ends[-1]
    assert beside[-1].eval_seconds > 0


def test_channels_last_on_the_cpu_trains_the_same_model(raw):
    plain = run(small("speednet", epochs=1, channels_last=False), raw)[-1]
    nhwc = run(small("speednet", epochs=1, channels_last=True), raw)[-1]
    assert plain.status == nhwc.status == "finished"
    # Same seed, same data: only the memory layout (and rounding) differs.
    assert nhwc.test_accuracy == pytest.approx(plain.test_accuracy, abs=0.02)
