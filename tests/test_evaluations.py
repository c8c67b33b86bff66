"""Evaluations stored on disk per checkpoint (`mnist_core.storage.evaluations`): read back
equal to a fresh evaluation, computed once, and evaluated afresh when the checkpoint changes.
Real checkpoints and the real MNIST test set; the model builder only counts its calls."""

# The AppTest suite's fixture is imported by name; a test's argument then reads to ruff as
# redefining it.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.storage.checkpoints import load_checkpoint, save_checkpoint
from mnist_core.storage.evaluations import SHIPPED_FOLDER, EvaluationCache
from mnist_core.train.evaluation import EvalResult, evaluate
from tests.test_app import pretrained_dir  # noqa: F401  (fixture)

FIELDS = [f.name for f in dataclasses.fields(EvalResult)]


def _same(a: EvalResult, b: EvalResult) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        else:
            assert x == y, name


class Builds:
    """The real model of a checkpoint file, counting how often it was built."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> torch.nn.Module:
        self.calls += 1
        return load_checkpoint(self.path).build_model()


@pytest.fixture
def mlp(tmp_path: Path, pretrained_dir: Path) -> Path:
    copy = tmp_path / "mlp.pt"
    shutil.copy(pretrained_dir / "mlp.pt", copy)
    return copy


def test_a_stored_evaluation_is_the_evaluation_and_is_computed_once(
    tmp_path: Path, mlp: Path, mnist_raw: MnistRaw
) -> None:
    x, y = mnist_raw.test_images, mnist_raw.test_labels
    cache = EvaluationCache(tmp_path / "evaluations")
    build = Builds(mlp)
    first = cache.evaluate(mlp, build, x, y)
    assert build.calls == 1 and len(list(cache.folder.glob("*.npz"))) == 1
    fresh = evaluate(load_checkpoint(mlp).build_model(), x, y)
    _same(first, fresh)
    # Another process (a new cache on the same folder) reads it back without building the model.
    again = EvaluationCache(tmp_path / "evaluations").evaluate(mlp, build, x, y)
    assert build.calls == 1
    _same(again, fresh)
    assert again.n == 10_000 and len(again.misclassified) == len(fresh.misclassified)


def test_a_rewritten_checkpoint_is_evaluated_again(
    tmp_path: Path, mlp: Path, mnist_raw: MnistRaw
) -> None:
    x, y = mnist_raw.test_images, mnist_raw.test_labels
    cache = EvaluationCache(tmp_path / "evaluations")
    before = cache.evaluate(mlp, Builds(mlp), x, y)
    ckpt = load_checkpoint(mlp)
    state = {k: v.clone() for k, v in ckpt.state_dict.items()}
    last_bias = [k for k in state if k.endswith("bias")][-1]
    state[last_bias][0] += 5.0  # the model now leans to "0"
    save_checkpoint(dataclasses.replace(ckpt, state_dict=state), mlp)
    build = Builds(mlp)
    after = cache.evaluate(mlp, build, x, y)
    assert build.calls == 1  # not the stored one of the old file
    _same(after, evaluate(load_checkpoint(mlp).build_model(), x, y))
    assert after.accuracy != before.accuracy
    assert len(list(cache.folder.glob("*.npz"))) == 2


def test_a_damaged_file_is_evaluated_again_and_old_ones_are_trimmed(
    tmp_path: Path, mlp: Path, mnist_raw: MnistRaw
) -> None:
    x, y = mnist_raw.test_images, mnist_raw.test_labels
    cache = EvaluationCache(tmp_path / "evaluations", keep=1)
    cache.evaluate(mlp, Builds(mlp), x, y)
    cache.path_for(mlp, x, y).write_bytes(b"not an npz")
    build = Builds(mlp)
    _same(cache.evaluate(mlp, build, x, y), evaluate(build(), x, y))
    assert build.calls == 2  # once by the cache, once here
    for n in range(3):  # other test sets: only the newest file is kept
        cache.evaluate(mlp, Builds(mlp), x[: 10 + n], y[: 10 + n])
    assert len(list(cache.folder.glob("*.npz"))) == 1


def test_warm_stores_the_evaluations_ahead(
    tmp_path: Path,
    pretrained_dir: Path,
    mnist_raw: MnistRaw,
) -> None:
    x, y = mnist_raw.test_images[:500], mnist_raw.test_labels[:500]
    cache = EvaluationCache(tmp_path / "evaluations")
    paths = [pretrained_dir / f"{m}.pt" for m in ("mlp", "lenet5")]
    cache.warm([(p, Builds(p)) for p in paths], lambda: (x, y)).join(timeout=120)
    for p in paths:
        stored = cache.stored(p, x, y)
        assert stored is not None
        _same(stored, evaluate(load_checkpoint(p).build_model(), x, y))


def test_the_shipped_evaluations_are_those_of_the_shipped_checkpoints(
    tmp_path: Path, pretrained_dir: Path, mnist_raw: MnistRaw
) -> None:
    """checkpoints/evaluations holds each pretrained model's evaluation, read before anything is
    computed; after retraining one, `python -m mnist_core.storage.evaluations` makes it again."""
    shipped = pretrained_dir / SHIPPED_FOLDER
    if not shipped.is_dir():
        pytest.skip("throwaway checkpoints trained here: nothing shipped for them")
    x, y = mnist_raw.test_images, mnist_raw.test_labels
    cache = EvaluationCache(tmp_path / "evaluations", shipped=[shipped])
    for path in sorted(pretrained_dir.glob("*.pt")):
        if path.name.endswith(".timeline.pt"):
            continue
        stored = cache.stored(path, x, y)
        assert stored is not None, f"no shipped evaluation of {path.name}"
        _same(stored, evaluate(load_checkpoint(path).build_model(), x, y))
    assert not cache.folder.exists()  # nothing was computed or written
