"""ONNX export (issue 14): every registered architecture exports, passes the ONNX checker, runs
in onnxruntime at any batch size and gives torch's probabilities within 1e-4 on 100 real test
digits; `python -m mnist_core export` does the same for a shipped checkpoint."""

from __future__ import annotations

import json

import onnx
import onnxruntime as ort
import pytest
import torch

from mnist_core.cli.main import main
from mnist_core.errors import MnistError
from mnist_core.models import create_model, list_models
from mnist_core.storage.checkpoints import make_checkpoint
from mnist_core.storage.export import TOLERANCE, check_onnx, export_onnx, require_onnx
from mnist_core.train.config import TrainConfig

PRETRAINED = "checkpoints/lenet5.pt"


@pytest.fixture(scope="module")
def digits(raw):
    return raw.test_images[:100].float().div(255).unsqueeze(1)


@pytest.mark.parametrize("name", list_models())
def test_every_architecture_exports_and_matches_torch(name, digits):
    torch.manual_seed(0)
    model = create_model(name)
    with torch.no_grad():  # BatchNorm statistics away from 0/1, so their export is exercised
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    ckpt = make_checkpoint(model, TrainConfig(model=name), {"test_accuracy": 0.5}, name="mine")
    data = export_onnx(ckpt)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["architecture"] == name and meta["name"] == "mine"
    assert "float32 [N,1,28,28] in [0,1]" in meta["input"]
    check = check_onnx(data, ckpt, digits)
    assert check.n_images == 100 and check.agree == 100
    assert check.max_abs_diff <= TOLERANCE and check.ok
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for n in (1, 7):  # the batch axis is free
        out = session.run(["logits"], {"image": digits[:n].numpy()})[0]
        assert out.shape == (n, 10)


def test_the_export_command_writes_a_checked_file(tmp_path, mnist_dir, capsys):
    out = tmp_path / "sub" / "lenet5.onnx"
    rc = main(
        [
            "export", "--checkpoint", PRETRAINED, "--format", "onnx", "--out", str(out),
            "--data-dir", str(mnist_dir), "--json",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    report = json.loads(captured.out)
    assert report["ok"] and report["n_images"] == 100 and report["agree"] == 100
    assert report["max_abs_diff"] <= TOLERANCE and report["model"] == "lenet5"
    assert out.stat().st_size == report["bytes"] > 100_000
    assert "onnxruntime matches torch on 100 test digits" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint", "missing.pt", "--out", "x.onnx"], "does not exist"),
        (["--checkpoint", PRETRAINED, "--out", "x.onnx", "--format", "tflite"], "invalid choice"),
    ],
)
def test_the_export_command_refuses_bad_input_in_one_line(args, message, capsys, tmp_path):
    args = [a if a != "x.onnx" else str(tmp_path / "x.onnx") for a in args]
    try:
        rc = main(["export", *args])
    except SystemExit as e:  # argparse's own refusals exit
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_a_tolerance_is_a_parameter_and_ok_is_stored(digits):
    ckpt = make_checkpoint(create_model("mlp"), None, model_name="mlp", model_kwargs={})
    data = export_onnx(ckpt)
    loose = check_onnx(data, ckpt, digits[:10])
    strict = check_onnx(data, ckpt, digits[:10], atol=-1.0)  # nothing is within -1
    assert loose.ok and not strict.ok
    assert loose.max_abs_diff == strict.max_abs_diff and strict.agree == 10


def test_missing_packages_are_a_message_with_the_fix(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    with pytest.raises(MnistError, match="pip install onnx onnxruntime"):
        require_onnx()


def test_the_export_command_exits_1_when_onnxruntime_disagrees(
    tmp_path, mnist_dir, capsys, monkeypatch
):
    """A failed check keeps the file (to look at in Netron) and says so; exit status 1."""
    import mnist_core.storage.export

    def strict(data, ckpt, images):
        return check_onnx(data, ckpt, images, atol=-1.0)

    monkeypatch.setattr(mnist_core.storage.export, "check_onnx", strict)
    out = tmp_path / "lenet5.onnx"
    args = ["export", "--checkpoint", PRETRAINED, "--out", str(out), "--data-dir", str(mnist_dir)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "differs from torch" in captured.out and "the file is kept" in captured.out
    assert out.is_file()
