"""Checkpoint round trip, atomic writes and refusal of unsafe or mismatched files."""

import io
import os

import pytest
import torch

from mnist_core.errors import CheckpointError
from mnist_core.storage.checkpoints import (
    FORMAT_VERSION,
    checkpoint_bytes,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
    with_cpu_test_accuracy,
)
from mnist_core.train.config import TrainConfig
from mnist_core.train.evaluation import evaluate
from mnist_core.train.loop import build_model


def make(model="resnet", **kw):
    config = TrainConfig.for_model(model, **kw)
    net = build_model(config)
    # give BatchNorm non-trivial running statistics so the round trip covers buffers
    net.train()
    net(torch.rand(8, 1, 28, 28))
    return net, make_checkpoint(net, config, {"test_accuracy": 0.987}, name="demo")


@pytest.mark.parametrize("model", ["mlp", "lenet5", "resnet"])
def test_round_trip_gives_identical_outputs(tmp_path, model):
    net, ckpt = make(model)
    path = save_checkpoint(ckpt, tmp_path / "m.pt")
    loaded = load_checkpoint(path)
    x = torch.rand(5, 1, 28, 28)
    net.eval()
    assert torch.equal(net(x), loaded.build_model()(x))
    assert loaded.model == model and loaded.name == "demo"
    assert loaded.test_accuracy == 0.987 and loaded.format_version == FORMAT_VERSION
    assert TrainConfig.from_dict(loaded.config) == TrainConfig.for_model(model)
    assert not loaded.build_model().training
    assert path.stat().st_mode & 0o777 == 0o644  # an ordinary file, not mkstemp's 0600


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    torch.save({"model": "mlp", "state_dict": {}, "x": Evil()}, buf)
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(buf.getvalue())
    assert not marker.exists()


def test_truncated_and_garbage_files(tmp_path):
    _, ckpt = make("mlp")
    data = checkpoint_bytes(ckpt)
    for bad in (data[: len(data) // 2], b"not a checkpoint", b""):
        with pytest.raises(CheckpointError):
            load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def _with(payload_changes):
    _, ckpt = make("resnet")
    payload = ckpt.to_payload() | payload_changes
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def test_other_architecture_and_wrong_shapes_are_explained():
    with pytest.raises(CheckpointError, match="does not fit the LeNet-5"):
        load_checkpoint(_with({"model": "lenet5"}))
    with pytest.raises(CheckpointError, match="size mismatch"):
        load_checkpoint(_with({"model_kwargs": {"width": 8}}))
    with pytest.raises(CheckpointError, match="unknown architecture"):
        load_checkpoint(_with({"model": "vgg"}))


def test_newer_format_and_huge_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(_with({"format_version": FORMAT_VERSION + 1}))
    big = tmp_path / "big.pt"
    big.write_bytes(b"\0" * 2048)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(big, max_bytes=1024)


def test_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    _, first = make("mlp")
    save_checkpoint(first, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    _, second = make("lenet5")
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(second, path)
    assert path.read_bytes() == before  # the previous file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary left behind


def test_other_file_types_renamed_pt_are_unreadable_not_malicious():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    for data in (png, b"hello world\n" * 50, bytes(range(256))):
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            load_checkpoint(data)


def test_with_cpu_test_accuracy_reports_what_a_loader_measures():
    _net, ckpt = make("lenet5")  # untrained: its accuracy is far from the 0.987 it claims
    torch.manual_seed(0)
    images = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (300,))
    fixed = with_cpu_test_accuracy(ckpt, images, labels)
    expected = evaluate(ckpt.build_model(), images, labels).accuracy
    assert fixed.test_accuracy == expected != 0.987
    assert fixed.metrics["test_accuracy_at_training_end"] == 0.987
    assert fixed.state_dict is ckpt.state_dict and ckpt.test_accuracy == 0.987  # a new object
