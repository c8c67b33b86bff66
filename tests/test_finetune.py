"""Fine-tuning on a personal set: it raises accuracy on the held-back part of a "style" the
model has never seen (digits turned a quarter turn, made here from MNIST test digits) while
MNIST test accuracy stays; in the job system and on the command line; bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.handwriting import HandwritingError, HandwritingSet, to_zip
from mnist_core.errors import ConfigError
from mnist_core.jobs import JobManager
from mnist_core.storage.checkpoints import load_checkpoint
from mnist_core.train import finetune
from mnist_core.train.evaluation import evaluate
from tests.test_cli import cli

LENET = "checkpoints/lenet5.pt"


def turned(raw: MnistRaw, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Test digits start..start+n turned a quarter turn: (n, 28, 28) uint8, (n,) labels."""
    images = torch.rot90(raw.test_images[start : start + n], 1, dims=(1, 2)).numpy().copy()
    return images, raw.test_labels[start : start + n].numpy()


def test_finetune_learns_a_new_style_and_keeps_mnist(raw: MnistRaw) -> None:
    ckpt = load_checkpoint(LENET)
    personal = HandwritingSet.from_arrays(*turned(raw, 0, 200))
    model, config, report, _ = finetune.run(ckpt, personal, raw, steps=150)
    assert report.status == "finished" and report.steps == 150 == config.steps_per_epoch
    assert report.n_held_out + report.n_train == 200 and report.n_held_out >= 40
    assert report.personal_accuracy_before < 0.5  # the style is new to it
    assert report.personal_accuracy_after > report.personal_accuracy_before + 0.3
    assert report.test_accuracy > 0.98  # MNIST is mixed in: it does not forget
    # Other digits of the same style, never seen in fine-tuning, are read better too.
    other = [torch.from_numpy(a) for a in turned(raw, 5000, 500)]
    before = evaluate(ckpt.build_model(), *other).accuracy
    assert evaluate(model, *other).accuracy > before + 0.3


def test_finetune_in_the_job_system_records_before_and_after(raw: MnistRaw, tmp_path) -> None:
    from mnist_core.storage.store import ModelStore

    ckpt = load_checkpoint(LENET)
    personal = HandwritingSet.from_arrays(*turned(raw, 0, 120))
    config, data = finetune.prepare(ckpt, personal, steps=60)
    store = ModelStore("checkpoints/", tmp_path / "runs")
    manager = JobManager(data=lambda: raw, store=store, max_running=1)
    try:
        job_id = manager.submit(config, "someone", name="mine", finetune=data)
        assert manager.wait(job_id, timeout=240)
        snap = manager.snapshot(job_id)
        assert snap.status == "finished", snap.message
        before, after = snap.tags["personal_accuracy_before"], snap.tags["personal_accuracy_after"]
        assert after > before
        saved = store.load(snap.checkpoint_id)
        assert saved.metrics["personal_accuracy_after"] == after
        assert data.held_accuracy(saved.build_model()) == pytest.approx(after)
    finally:
        manager.shutdown()


def test_refusals(raw: MnistRaw) -> None:
    ckpt = load_checkpoint(LENET)
    few = HandwritingSet.from_arrays(*turned(raw, 0, 20))
    with pytest.raises(HandwritingError, match="at least 30"):
        finetune.prepare(ckpt, few)
    with pytest.raises(ConfigError, match="steps must be a whole number from 1 to 5000"):
        finetune.prepare(ckpt, HandwritingSet.from_arrays(*turned(raw, 0, 60)), steps=0)


@pytest.mark.slow
def test_command_line(raw: MnistRaw, tmp_path, mnist_dir) -> None:
    images = tmp_path / "mine.zip"
    images.write_bytes(to_zip(HandwritingSet.from_arrays(*turned(raw, 0, 120))))
    out = tmp_path / "tuned.pt"
    proc = cli(
        "finetune", "--checkpoint", LENET, "--images", images, "--out", out, "--steps", 80,
        "--json", data_dir=mnist_dir,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    for key in ("personal_accuracy_before", "personal_accuracy_after", "test_accuracy", "steps"):
        assert key in report
    assert report["steps"] == 80
    assert report["personal_accuracy_after"] > report["personal_accuracy_before"]
    ev = json.loads(cli("evaluate", "--checkpoint", out, "--json", data_dir=mnist_dir).stdout)
    assert ev["test_accuracy"] == pytest.approx(report["test_accuracy"])
    assert load_checkpoint(out).name == "LeNet-5 (pretrained) (my handwriting)"

    # Bad input: status 2, one line, no traceback.
    small = tmp_path / "small.zip"
    small.write_bytes(to_zip(HandwritingSet.from_arrays(*turned(raw, 0, 10))))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    for args in (
        ["--images", tmp_path / "nope"],
        ["--images", broken],
        ["--images", small],
        ["--images", images, "--steps", "0"],
        ["--images", images, "--checkpoint", tmp_path / "missing.pt"],
    ):
        base = ["finetune", "--checkpoint", LENET, "--out", tmp_path / "x.pt"]
        proc = cli(*base, *args, data_dir=mnist_dir, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
