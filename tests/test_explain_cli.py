"""`python -m mnist_core explain` end to end, in subprocesses, on real test digits."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_core import explain as E
from mnist_core.digits.decode import load_image_bytes
from mnist_core.digits.preprocess import preprocess
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# The one place that knows where the shipped checkpoints live.
SHIPPED_DIR = PACKAGED_PRETRAINED_DIR


def explain_cli(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", "explain", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def digit_files(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three test digits as dark-on-light PNG scans, then a blank page; labels 7, 2, 1."""
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:3]
    folder = tmp_path_factory.mktemp("digits")
    files = []
    for i, img in enumerate(images):
        path = folder / f"d{i}.png"
        Image.fromarray(255 - img).resize((280, 280), Image.Resampling.BILINEAR).save(path)
        files.append(path)
    blank = folder / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    return [*files, blank]


@pytest.mark.parametrize(
    ("model", "method"),
    [("lenet5", "saliency"), ("lenet5", "gradcam"), ("mlp", "integrated_gradients")],
)
def test_explain_json_per_image(model, method, digit_files):
    ckpt = SHIPPED_DIR / f"{model}.pt"
    proc = explain_cli("--checkpoint", ckpt, *digit_files, "--method", method, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [r["file"] for r in out] == [str(p) for p in digit_files]
    assert [r["digit"] for r in out[:3]] == [7, 2, 1]
    net = load_checkpoint(ckpt).build_model()
    layers = [info.to_json() for info in E.describe_layers(net)]
    for r, path in zip(out[:3], digit_files, strict=False):
        assert len(r["probabilities"]) == 10 and abs(sum(r["probabilities"]) - 1) < 1e-5
        assert r["layers"] == layers
        a = r["attribution"]
        assert a["method"] == method and a["target"] == r["digit"]
        assert np.array(a["map"]).shape == (28, 28)
        # the map is the engine's, on the preprocessed 28x28 digit
        image = preprocess(load_image_bytes(path.read_bytes())).image
        expected = E.attribute(net, image, method).map
        np.testing.assert_allclose(np.array(a["map"]), expected, rtol=1e-4, atol=1e-6)
    blank = out[3]
    assert blank["digit"] is None and blank["probabilities"] is None
    assert blank["attribution"] is None and blank["layers"] == layers


def test_explain_a_chosen_class_and_plain_text(digit_files):
    ckpt = SHIPPED_DIR / "resnet.pt"
    proc = explain_cli("--checkpoint", ckpt, digit_files[0], "--target", "9", "--json")
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["digit"] == 7 and r["attribution"]["target"] == 9  # "why not a 9?"
    assert r["attribution"]["method"] == "saliency"  # the default
    text = explain_cli("--checkpoint", ckpt, digit_files[0], digit_files[3])
    assert text.returncode == 0 and "saliency map for class 7" in text.stdout
    assert "nothing drawn" in text.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--checkpoint", SHIPPED_DIR / "mlp.pt", "nope.png"], "does not exist"),
        (["--checkpoint", "missing.pt", "x.png"], "does not exist"),
        (["--checkpoint", ROOT / "README.md", "x.png"], "checkpoint"),
        (["--checkpoint", SHIPPED_DIR / "mlp.pt", "IMG", "--method", "lime"], "invalid choice"),
        (["--checkpoint", SHIPPED_DIR / "mlp.pt", "IMG", "--target", "10"], "digit 0-9"),
        (["--checkpoint", SHIPPED_DIR / "mlp.pt", "IMG", "--target", "-1"], "digit 0-9"),
        (["--checkpoint", SHIPPED_DIR / "mlp.pt", "IMG", "--method", "gradcam"], "Grad-CAM"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, says, digit_files):
    args = [digit_files[0] if a == "IMG" else a for a in args]
    proc = explain_cli(*args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
