"""The Start here page's lessons (`mnist_core.train.lessons`): each one trained for real on MNIST,
its check read against what the lesson teaches; and the MLP written as functions."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import ModelError
from mnist_core.models import create_model
from mnist_core.models.functional import largest_difference, mlp_as_functions
from mnist_core.train.lessons import (
    LESSONS,
    MORE_PAGES,
    Lesson,
    LessonError,
    LessonRun,
    Outcome,
    RunResult,
    find_lesson,
    first_digits,
)
from mnist_core.train.loop import fit
from mnist_core.train.record import RunRecord

PCT = r"\d{1,3}\.\d%"


def run_lesson(lesson: Lesson, raw: MnistRaw) -> tuple[Outcome, float]:
    """Train the lesson's runs one after another, as the job queue does; the Outcome its check
    reads (the first run's model, the first 100 test digits) and the seconds it took."""
    t0 = time.perf_counter()
    results, first_model = {}, None
    for run in lesson.runs:
        model = create_model(run.config.model, **run.config.model_kwargs)
        record = RunRecord.of(fit(run.config, raw, model=model, dynamics=False))
        results[run.label] = RunResult.of_record(run.label, record)
        first_model = first_model or model
    digits = first_digits(raw.test_images)
    outcome = Outcome(
        results,
        model=first_model.eval(),
        digits=digits,
        digit_caption=f"test digit #0, a {int(raw.test_labels[0])}",
        pretrained={"resnet": 0.9973},
    )
    return outcome, time.perf_counter() - t0


def test_every_lesson_is_well_formed() -> None:
    keys = [lesson.key for lesson in LESSONS]
    assert keys == ["loss", "overfitting", "resnet", "module", "learning-rate", "sees"]
    for lesson in LESSONS:
        assert lesson.more in MORE_PAGES
        # Two minutes each, but the ResNet lesson (135 s measured on a busy machine).
        assert lesson.local_s <= (150 if lesson.key == "resnet" else 120), lesson.key
        assert lesson.hosted_s >= lesson.local_s, lesson.key
        assert find_lesson(lesson.key) is lesson
    with pytest.raises(LessonError, match="no lesson 'nope'"):
        find_lesson("nope")
    run = LESSONS[0].runs[0]
    with pytest.raises(LessonError, match="names two runs alike"):
        Lesson("x", "X", "s", "One. Two. Three.", (run, run), lambda o: "", "compare", 1, 1)
    with pytest.raises(LessonError, match="3-6 sentences"):
        Lesson("x", "X", "s", "One.", (run,), lambda o: "", "compare", 1, 1)
    with pytest.raises(LessonError, match="needs a label"):
        LessonRun(" ", run.config)


def test_a_check_without_its_runs_says_to_run_again() -> None:
    with pytest.raises(LessonError, match="run the lesson again"):
        find_lesson("overfitting").check(Outcome({}))


def test_the_mlp_as_functions_gives_the_modules_outputs() -> None:
    torch.manual_seed(0)
    model = create_model("mlp", hidden=(256, 64), dropout=0.5).eval()
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(mlp_as_functions(model, x), model(x), atol=1e-6)
    assert largest_difference(model, x[:, 0].numpy()) < 1e-5
    with pytest.raises(ModelError, match="only the MLP"):
        largest_difference(create_model("lenet5"), x[:, 0].numpy())


@pytest.mark.parametrize("key", ["loss", "module", "learning-rate", "sees"])
def test_short_lessons_teach_what_they_say(key: str, mnist_raw: MnistRaw) -> None:
    lesson = find_lesson(key)
    outcome, seconds = run_lesson(lesson, mnist_raw)
    sentence = lesson.check(outcome)
    print(f"\n{key}: {seconds:.1f} s: {sentence}")
    assert re.search(PCT, sentence), sentence
    assert "run it again" not in sentence and "did not" not in sentence, sentence
    if key == "learning-rate":
        assert outcome.results["too large"].status == "diverged"
        assert "diverged" in sentence
    if key == "module":
        assert "218,058 parameters" in sentence and "200,960, 16,448, 650" in sentence
    if key == "sees":
        assert "6 maps of" in sentence and "test digit #0, a 7" in sentence


def test_overfitting_lesson_gap_without_dropout_beats_with(mnist_raw: MnistRaw) -> None:
    lesson = find_lesson("overfitting")
    outcome, seconds = run_lesson(lesson, mnist_raw)
    sentence = lesson.check(outcome)
    gaps = {}
    for label, result in outcome.results.items():
        last = result.epochs[-1]
        gaps[label] = 100 * (last.train_accuracy - last.test_accuracy)
        print(f"\n{label}: train {last.train_accuracy:.2%} test {last.test_accuracy:.2%}")
    print(f"overfitting: {seconds:.1f} s: {sentence}")
    assert gaps["without dropout"] > 5 and gaps["without dropout"] > gaps["with dropout"]
    assert "dropout narrowed the gap" in sentence
    assert re.search(r"ahead of test accuracy at epoch \d+", sentence), sentence


@pytest.mark.slow
def test_resnet_lesson_quotes_its_runs_and_the_shipped_model(mnist_raw: MnistRaw) -> None:
    lesson = find_lesson("resnet")
    outcome, seconds = run_lesson(lesson, mnist_raw)
    sentence = lesson.check(outcome)
    print(f"\nresnet: {seconds:.1f} s: {sentence}")
    accs = [outcome.results[r.label].test_accuracy for r in lesson.runs]
    assert all(a is not None and a > 0.9 for a in accs), accs
    assert "99.7%" in sentence and "shipped model's, not this lesson's" in sentence
    assert sentence.count("%") >= 4


def test_first_digits_scales_bytes() -> None:
    x = np.full((3, 28, 28), 255, np.uint8)
    assert first_digits(x, 2).shape == (2, 28, 28) and first_digits(x).max() == 1.0
