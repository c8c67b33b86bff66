"""The command line end to end, in subprocesses, on real data."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "checkpoints"


def cli(*args, data_dir=None, check=True, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if data_dir is not None:
        env["MNIST_DATA_DIR"] = str(data_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_core", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.mark.slow
def test_train_writes_a_checkpoint_that_evaluate_confirms(tmp_path, mnist_dir):
    out = tmp_path / "m.pt"
    args = "--model lenet5 --epochs 2 --batch-size 32 --train-subset 2000 --val-size 500"
    proc = cli("train", *args.split(), "--out", out, data_dir=mnist_dir)
    assert out.is_file() and "test accuracy" in proc.stdout
    ev = json.loads(cli("evaluate", "--checkpoint", out, "--json", data_dir=mnist_dir).stdout)
    assert 0.8 < ev["test_accuracy"] <= 1
    assert len(ev["per_class_accuracy"]) == 10 and len(ev["confusion_matrix"]) == 10
    assert sum(map(sum, ev["confusion_matrix"])) == 10_000
    assert ev["misclassified"] == round((1 - ev["test_accuracy"]) * 10_000)


# The ResNet over the 10,000 test digits: 8 s on 2 idle cores, 28 s on a busy machine.
@pytest.mark.parametrize("name", ["mlp", "lenet5", pytest.param("resnet", marks=pytest.mark.slow)])
def test_shipped_checkpoints_meet_their_accuracy(name, mnist_dir):
    floor = {"mlp": 0.984, "lenet5": 0.991, "resnet": 0.9965}[name]
    ev = json.loads(
        cli(
            "evaluate",
            "--checkpoint",
            PRETRAINED / f"{name}.pt",
            "--json",
            data_dir=mnist_dir,
        ).stdout
    )
    assert ev["test_accuracy"] >= floor


def _test_digits(mnist_dir, n):
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images[:n], labels[:n]


def test_predict_png_and_jpeg_and_blank(tmp_path, mnist_dir):
    images, labels = _test_digits(mnist_dir, 5)
    files = []
    for i, img in enumerate(images):
        # dark ink on light paper, 10x larger, as a scan would be
        pic = Image.fromarray(255 - img).resize((280, 280), Image.Resampling.BILINEAR)
        path = tmp_path / f"d{i}.{'png' if i % 2 else 'jpg'}"
        pic.save(path)
        files.append(path)
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    ckpt = PRETRAINED / "resnet.pt"
    out = json.loads(cli("predict", "--checkpoint", ckpt, *files, blank, "--json").stdout)
    assert [r["digit"] for r in out[:5]] == labels.tolist()
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-5 for r in out[:5])
    assert out[5]["digit"] is None and out[5]["probabilities"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--checkpoint", "does-not-exist.pt"],
        ["predict", "--checkpoint", "checkpoints/mlp.pt", "nope.png"],
        ["train", "--model", "vgg"],
        ["train", "--model", "mlp", "--lr", "-1"],
        ["train", "--model", "mlp", "--epochs", "many"],
        ["train", "--model", "mlp", "--bogus", "1"],
        ["train", "--model", "mlp", "--target", "two"],
        ["train", "--model", "mlp", "--target", "0"],
        ["train", "--preset", "sprint"],
        ["train", "--epochs", "1"],  # no architecture: neither --model nor a preset with one
        ["frobnicate"],
    ],
)
def test_input_errors_exit_2_with_one_line(args):
    proc = cli(*args, check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupt_checkpoint_and_missing_data_are_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated zip, not a checkpoint")
    proc = cli("evaluate", "--checkpoint", bad, check=False)
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli(
        "evaluate",
        "--checkpoint",
        PRETRAINED / "mlp.pt",
        "--data-dir",
        empty,
        data_dir=empty,
        check=False,
        cwd=tmp_path,  # no ./data/MNIST/raw there either
    )
    assert proc.returncode == 2 and "MNIST_DATA_DIR" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_models_lists_every_architecture():
    out = cli("models").stdout
    assert all(name in out for name in ("mlp", "lenet5", "resnet", "speednet"))


def _train_json(tmp_path, mnist_dir, *args):
    """`train ... --json` on 3,000 images: its stdout must be exactly one JSON object."""
    small = ["--train-subset", "3000", "--eval-every", "5", "--log-every", "5"]
    proc = cli("train", *args, *small, "--out", tmp_path / "m.pt", "--json", data_dir=mnist_dir)
    result = json.loads(proc.stdout)  # nothing else on stdout: progress went to stderr
    assert "epoch" in proc.stderr and "test" in proc.stderr
    return result


@pytest.mark.slow
def test_target_json_reports_the_training_seconds_to_the_first_check_at_target(tmp_path, mnist_dir):
    # The speedrun preset (SpeedNet, its one-epoch recipe) on a subset: 24 steps, a test check
    # every 5 of them, so the 80% target is first met inside the epoch.
    r = _train_json(tmp_path, mnist_dir, "--preset", "speedrun", "--target", "80")
    assert r["model"] == "speednet" and r["status"] == "finished" and r["epochs"] == 1
    assert r["target"] == pytest.approx(0.8)
    assert r["config"]["eval_every"] == 5 and r["config"]["schedule"] == "linear"
    assert 0.8 <= r["test_accuracy"] <= 1
    assert r["step_at_target"] % 5 == 0 and r["step_at_target"] < r["steps"] == 24
    assert 0 < r["epoch_at_target"] < 1
    # Training seconds only: less than the whole run's, which excludes the checks' time.
    assert 0 < r["first_step_seconds"] <= r["seconds_to_target"] < r["train_seconds"]
    assert r["eval_seconds"] > 0
    assert (tmp_path / "m.pt").is_file()


@pytest.mark.slow
def test_a_model_given_wins_over_the_presets(tmp_path, mnist_dir):
    r = _train_json(tmp_path, mnist_dir, "--preset", "speedrun", "--model", "mlp", "--epochs", "1")
    assert r["model"] == "mlp" and r["config"]["eval_every"] == 5


@pytest.mark.slow
def test_target_json_is_null_when_the_target_is_never_reached(tmp_path, mnist_dir):
    r = _train_json(tmp_path, mnist_dir, "--model", "mlp", "--epochs", "1", "--target", "1.0")
    assert r["model"] == "mlp" and r["target"] == 1.0
    assert r["seconds_to_target"] is None and r["epoch_at_target"] is None
    assert 0 < r["test_accuracy"] < 1 and r["train_seconds"] > 0 and r["epochs"] == 1


@pytest.mark.slow
def test_stop_at_target_ends_the_run_at_the_first_check_at_target(tmp_path, mnist_dir):
    r = _train_json(
        tmp_path, mnist_dir, "--preset", "speedrun", "--target", "0.8", "--stop-at-target"
    )
    assert r["status"] == "stopped" and r["steps"] == r["step_at_target"] < 24
    assert r["train_seconds"] == pytest.approx(r["seconds_to_target"], abs=0.05)
    assert r["test_accuracy"] >= 0.8  # the check's own accuracy, of the weights it stopped at


def test_a_reader_that_stops_early_gets_no_traceback():
    """`python -m mnist_core models | head -1`: the reader closes the pipe; the command ends
    without a traceback on stderr. (Closed before the command writes: its first write fails.)"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "models"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err, err
