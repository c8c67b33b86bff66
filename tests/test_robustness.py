"""Robustness: what a visitor can throw at the engine, damaged data files, and faults.

Every bad input ends in an error a person can act on (or an empty result with a message), and
leaves nothing changed: no file written, no listing changed, no other job disturbed.

Already covered elsewhere, and not repeated here:
- uploads: empty, over 10 MB, not an image, PNG header over 25 MP or over PIL's limit,
  truncated PNG, transparent RGBA/LA/palette PNG, animated GIF, 16-bit PNG, CMYK JPEG, blank
  arrays (tests/test_preprocess.py: test_load_rejects_*, test_load_*, test_blank_inputs_*);
- checkpoint bytes given to `load_checkpoint` directly: malicious pickle, truncated, other
  architecture, wrong shapes, newer format, size limit, os.replace failing in
  `save_checkpoint` (tests/test_checkpoints.py);
- settings out of range given as values, and a few unparsable texts (tests/test_config.py);
- a flipped byte in an uncompressed MNIST file; download mirrors that fail or serve bad files
  (tests/test_data.py: test_verify_file_detects_flipped_byte, test_download_*);
- a job whose data load crashes, a huge learning rate diverging, the runs folder being a file,
  leases (tests/test_jobs.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mnist_core.data.mnist import MNIST_FILES, MnistRaw, download_mnist, load_mnist, verify_file
from mnist_core.digits.decode import load_image_bytes
from mnist_core.digits.preprocess import EMPTY_MESSAGE, preprocess
from mnist_core.errors import CheckpointError, ConfigError, DataError, ImageError
from mnist_core.jobs import JobManager, JobSnapshot
from mnist_core.models.inference import predict
from mnist_core.storage.checkpoints import (
    FORMAT_VERSION,
    MAX_CHECKPOINT_BYTES,
    Checkpoint,
    checkpoint_bytes,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from mnist_core.storage.store import ModelStore
from mnist_core.train import loop as training
from mnist_core.train.config import TrainConfig, parse_value
from mnist_core.train.loop import build_model

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "checkpoints"
SLUG_FILE = re.compile(r"[a-z0-9_][a-z0-9_-]{0,59}\.pt")


# ---- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def pretrained(tmp_path: Path) -> Path:
    """A copy of the shipped pretrained checkpoints (the tests must never touch the real ones)."""
    folder = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED, folder, ignore=shutil.ignore_patterns("*.md"))
    shipped = sorted(p.name for p in folder.iterdir())
    assert shipped == sorted(
        ["evaluations"]  # their evaluations on the test set (issue 29)
        + [f"{m}{end}" for m in ("lenet5", "mlp", "resnet") for end in (".pt", ".timeline.pt")]
    )
    return folder


@pytest.fixture
def store(tmp_path: Path, pretrained: Path) -> ModelStore:
    return ModelStore(pretrained_dir=pretrained, runs_dir=tmp_path / "runs")


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones included) -> sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def torch_bytes(payload: object) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def tiny(model: str = "mlp", **kw: object) -> TrainConfig:
    """A job of about a second: 300 images, one epoch, no test evaluation per epoch."""
    base = dict(train_subset=300, val_size=100, epochs=1, batch_size=64, eval_test=False)
    return TrainConfig.for_model(model, **{**base, **kw})


def wait_done(manager: JobManager, job_id: str, timeout: float = 60) -> JobSnapshot:
    deadline = time.monotonic() + timeout
    while not (snap := manager.snapshot(job_id)).done:
        assert time.monotonic() < deadline, f"timed out: {snap.status} {snap.message}"
        time.sleep(0.01)
    return snap


@pytest.fixture
def make_manager(raw: MnistRaw, store: ModelStore) -> Iterator[Callable[..., JobManager]]:
    made: list[JobManager] = []

    def make(max_running: int = 1, **kw: object) -> JobManager:
        kw.setdefault("data", lambda: raw)
        kw.setdefault("store", store)
        manager = JobManager(max_running, **kw)  # type: ignore[arg-type]
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown(timeout=10)


# ---- uploaded images -----------------------------------------------------------------------------


def _noise(mode: str = "L") -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 256, (64, 64), np.uint8)).convert(
        mode
    )


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _header_size(fmt: str, width: int, height: int) -> bytes:
    """A 1x1 image whose header claims width x height (GIF: logical screen; BMP: DIB header)."""
    data = bytearray(encode(Image.new("L", (1, 1)), fmt))
    if fmt == "GIF":
        data[6:10] = struct.pack("<HH", width, height)
    else:
        data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _digit(size: int = 60) -> Image.Image:
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).line([(15, 10), (45, 10), (25, 50)], fill=255, width=5)
    return img


REFUSED_UPLOADS = [
    ("PDF", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" * 4, "not an image"),
    ("SVG", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "not an image"),
    ("pickle", pickle.dumps({"not": "an image"}), "not an image"),
    ("truncated JPEG", _half(encode(_noise("RGB"), "JPEG")), "truncated or corrupt"),
    ("truncated GIF", _half(encode(_noise(), "GIF")), "truncated or corrupt"),
    ("truncated WebP", _half(encode(_noise(), "WEBP")), "truncated or corrupt"),
    ("truncated BMP", _half(encode(_noise(), "BMP")), "truncated or corrupt"),
    ("truncated TIFF", _half(encode(_noise(), "TIFF")), "truncated or corrupt"),
    ("GIF claiming 30000x30000", _header_size("GIF", 30_000, 30_000), "decompression bomb"),
    ("BMP claiming 20000x20000", _header_size("BMP", 20_000, 20_000), "decompression bomb"),
    # A real bomb, not only a header: 30 MP of zeros compress to about 4 KB.
    ("30 MP PNG", encode(Image.new("1", (6000, 5000)), "PNG"), "6000x5000 pixels"),
    ("transparent GIF", encode(Image.new("P", (20, 20)), "GIF", transparency=0), "transparent"),
    (
        "transparent WebP",
        encode(Image.new("RGBA", (20, 20), (255, 255, 255, 0)), "WEBP", lossless=True),
        "transparent",
    ),
]


@pytest.mark.parametrize(("case", "data", "match"), REFUSED_UPLOADS, ids=lambda v: str(v)[:30])
def test_bad_uploads_are_refused_with_a_message(case: str, data: bytes, match: str) -> None:
    original = bytes(data)
    with pytest.raises(ImageError, match=match) as err:
        load_image_bytes(data, name=f"{case}.bin")
    message = str(err.value)
    assert message.endswith(".") and len(message) < 400  # a sentence, not a traceback
    assert "Traceback" not in message and data == original


BLANK_UPLOADS = [
    ("white JPEG", encode(Image.new("RGB", (50, 50), "white"), "JPEG")),
    ("black PNG", encode(Image.new("L", (50, 50), 0), "PNG")),
    ("white 16-bit PNG", encode(Image.fromarray(np.full((40, 40), 65535, np.uint16)), "PNG")),
    ("white CMYK JPEG", encode(Image.new("RGB", (40, 40), "white").convert("CMYK"), "JPEG")),
    ("white CMYK TIFF", encode(Image.new("RGB", (40, 40), "white").convert("CMYK"), "TIFF")),
    ("1x1 pixel", encode(Image.new("L", (1, 1), 255), "PNG")),
]


@pytest.mark.parametrize(("case", "data"), BLANK_UPLOADS, ids=[c for c, _ in BLANK_UPLOADS])
def test_blank_uploads_are_empty_with_a_message(case: str, data: bytes) -> None:
    result = preprocess(load_image_bytes(data, name=case))
    assert result.empty and result.image is None
    assert result.message.startswith(EMPTY_MESSAGE)


INK_UPLOADS = [
    (
        "animated PNG",
        lambda: encode(
            _digit(), "PNG", save_all=True, append_images=[Image.new("L", (60, 60), 255)]
        ),
    ),
    (
        "animated WebP",
        lambda: encode(
            _digit().convert("RGB"),
            "WEBP",
            save_all=True,
            append_images=[Image.new("RGB", (60, 60), "white")],
            lossless=True,
        ),
    ),
    ("16-bit TIFF", lambda: encode(Image.fromarray(np.asarray(_digit(), np.uint16) * 257), "TIFF")),
    (
        "CMYK TIFF",
        lambda: encode(Image.fromarray(255 - np.asarray(_digit())).convert("CMYK"), "TIFF"),
    ),
]


@pytest.mark.parametrize(("case", "make"), INK_UPLOADS, ids=[c for c, _ in INK_UPLOADS])
def test_other_formats_give_the_same_digit(case: str, make: Callable[[], bytes]) -> None:
    """Animations give their first frame (the second is blank white); 16-bit and CMYK files
    give the same 28x28 digit as the 8-bit original."""
    expected = preprocess(_digit()).image
    result = preprocess(load_image_bytes(make(), name=case))
    assert not result.empty and result.image is not None, result.message
    assert np.abs(result.image - expected).mean() < 0.02


@pytest.mark.parametrize("size", [(1, 200_000), (200_000, 1)])
def test_extreme_aspect_ratios_stay_cheap(size: tuple[int, int]) -> None:
    """A 1 x 200,000 PNG is 0.2 MP and a few KB; reducing its long thin ink used to pad the
    short side to the reduction factor: 200,000 x 1,250 floats (1 GB; 25 GB at 1 x 10^6)."""
    w, h = size
    ink = np.zeros((h, w), np.uint8)
    ink[h // 4 : 3 * h // 4 + 1, w // 4 : 3 * w // 4 + 1] = 255
    img = load_image_bytes(encode(Image.fromarray(ink), "PNG"))
    peak_before = _vm_hwm_mb()
    result = preprocess(img)
    assert not result.empty and result.image is not None
    assert result.image.shape == (28, 28)
    # The process's peak grows by far less than the gigabytes of the old padding.
    assert _vm_hwm_mb() - peak_before < 300


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---- uploaded checkpoints ------------------------------------------------------------------------


class _Evil:
    """Unpickling this runs a shell command (a classic malicious .pt file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def good_ckpt() -> Checkpoint:
    config = TrainConfig.for_model("mlp")
    return make_checkpoint(build_model(config), config, {"test_accuracy": 0.5}, name="good")


def _bad_checkpoints(good: Checkpoint, marker: Path) -> list[tuple[str, bytes, str]]:
    data = checkpoint_bytes(good)
    payload = good.to_payload()
    resnet = TrainConfig.for_model("resnet")
    resnet_ckpt = make_checkpoint(build_model(resnet), resnet)
    return [
        (
            "pickle running code (torch zip)",
            torch_bytes({**payload, "x": _Evil(marker)}),
            "could run code",
        ),
        ("pickle running code (plain)", pickle.dumps(_Evil(marker)), "could run code"),
        ("truncated", data[: len(data) // 2], "truncated, damaged"),
        ("last byte cut", data[:-1], "truncated, damaged"),
        ("empty", b"", "empty"),
        (
            "resnet weights labelled lenet5",
            torch_bytes({**resnet_ckpt.to_payload(), "model": "lenet5"}),
            "does not fit the LeNet-5",
        ),
        (
            "wrong shapes",
            torch_bytes({**payload, "model_kwargs": {"hidden": [64]}}),
            "does not fit",
        ),
        (
            "a tensor reshaped",
            torch_bytes(
                {
                    **payload,
                    "state_dict": {k: v.reshape(-1) for k, v in good.state_dict.items()},
                }
            ),
            "size mismatch",
        ),
        (
            "newer format",
            torch_bytes({**payload, "format_version": FORMAT_VERSION + 1}),
            "newer than this app reads",
        ),
        ("no format version", torch_bytes({**payload, "format_version": "1"}), "format version"),
        ("plain torch dict", torch_bytes({"weights": torch.zeros(3)}), "not an MNIST Playground"),
        (
            "weights not tensors",
            torch_bytes({**payload, "state_dict": {"layer.weight": [1.0, 2.0]}}),
            "not all tensors",
        ),
        (
            "NaN weights",
            torch_bytes(
                {
                    **payload,
                    "state_dict": {
                        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                        for k, v in good.state_dict.items()
                    },
                }
            ),
            "NaN or infinite",
        ),
        ("far too large", b"PK" + bytes(MAX_CHECKPOINT_BYTES), "larger than any"),
    ]


def test_bad_checkpoint_uploads_change_nothing(
    store: ModelStore, good_ckpt: Checkpoint, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    store.import_bytes(checkpoint_bytes(good_ckpt), "ann", "mine")  # one real upload first
    listing = [m.id for m in store.list("ann")]
    before = tree(tmp_path)
    for case, data, match in _bad_checkpoints(good_ckpt, marker):
        with pytest.raises(CheckpointError, match=match):
            store.import_bytes(data, "ann", f"upload {case}")
        assert not marker.exists(), f"{case}: the pickle ran code"
        assert [m.id for m in store.list("ann")] == listing, case
        assert tree(tmp_path) == before, f"{case}: a file was written"
    assert listing == ["pretrained/lenet5", "pretrained/mlp", "pretrained/resnet", "runs/ann/mine"]


def test_upload_for_an_invalid_owner_writes_nothing(
    store: ModelStore, good_ckpt: Checkpoint, tmp_path: Path
) -> None:
    before = tree(tmp_path)
    for owner in ("../ann", "", "a/b", "Ann", "x" * 61, "nul", ".", "..", "ann\x00"):
        with pytest.raises(CheckpointError, match="Invalid owner"):
            store.import_bytes(checkpoint_bytes(good_ckpt), owner, "x")
        with pytest.raises(CheckpointError, match="Invalid owner"):
            store.save(good_ckpt, owner, "x")
    assert tree(tmp_path) == before and not store.runs_dir.exists()


# ---- names of runs -------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../x",
    "../pretrained/mlp",
    "/etc/passwd",
    "..\\..\\x",
    "C:\\Windows\\system32\\x",
    "a\x00b",
    "\x00",
    "x" * 10_000,
    "数字 ünïcødé ✓",
    "🙂",
    "",
    "   ",
    ".",
    "..",
    "CON",
    "nul.pt",
    ".hidden",
    "pretrained/mlp",
    "runs/bob/stolen",
    "~/x",
    "$(touch pwned)",
    "mlp",
    "mlp",  # the same name twice: a second file, the first left as it was
]


def test_hostile_run_names_stay_inside_the_owner_folder(
    store: ModelStore, good_ckpt: Checkpoint, pretrained: Path, tmp_path: Path
) -> None:
    shipped = tree(pretrained)
    saved: dict[str, bytes] = {}
    for name in HOSTILE_NAMES:
        stored = store.save(good_ckpt, "ann", name)
        assert stored.path.parent == store.runs_dir / "ann", name
        assert SLUG_FILE.fullmatch(stored.path.name), (name, stored.path.name)
        assert stored.id == f"runs/ann/{stored.path.stem}" and stored.id not in saved
        assert len(stored.name) <= 100 and stored.name.strip() == stored.name
        assert store.load(stored.id).state_dict.keys() == good_ckpt.state_dict.keys()
        for earlier, data in saved.items():  # nothing saved before was replaced
            assert (store.runs_dir / "ann" / f"{earlier.split('/')[-1]}.pt").read_bytes() == data
        saved[stored.id] = stored.path.read_bytes()
    assert tree(pretrained) == shipped
    files = sorted(tree(tmp_path))
    assert all(f.startswith(("pretrained/", "runs/ann/")) for f in files), files
    assert len([f for f in files if f.startswith("runs/")]) == len(HOSTILE_NAMES)
    assert not Path("pwned").exists()


def test_hostile_model_ids_are_refused(
    store: ModelStore, good_ckpt: Checkpoint, pretrained: Path
) -> None:
    shipped = tree(pretrained)
    store.save(good_ckpt, "bob", "theirs")
    for model_id in (
        "runs/ann/../../pretrained/mlp",
        "pretrained/../runs/bob/theirs",
        "pretrained/../../checkpoints/mlp",
        "/etc/passwd",
        "../checkpoints/mlp",
        "pretrained/",
        "pretrained/.hidden",
        "pretrained/mlp\x00",
        "runs/bob/theirs/..",
        "runs/../bob/theirs",
        "",
    ):
        with pytest.raises(CheckpointError):
            store.load(model_id)
        with pytest.raises(CheckpointError):
            store.delete(model_id, "ann")
    with pytest.raises(CheckpointError, match="read-only"):
        store.delete("pretrained/mlp", "ann")
    with pytest.raises(CheckpointError, match="another visitor"):
        store.delete("runs/bob/theirs", "ann")
    assert store.load("runs/bob/theirs").name == "theirs"
    assert tree(pretrained) == shipped


def test_job_named_like_a_pretrained_file_is_saved_as_a_run(
    make_manager: Callable[..., JobManager], store: ModelStore, pretrained: Path
) -> None:
    shipped = tree(pretrained)
    manager = make_manager(1)
    job = manager.submit(tiny(), owner="ann", name="../../pretrained/mlp")
    snap = wait_done(manager, job)
    assert snap.status == "finished" and snap.checkpoint_id == "runs/ann/pretrained-mlp"
    assert manager.save(job, name="/etc/passwd") == snap.checkpoint_id  # already saved
    assert tree(pretrained) == shipped


# ---- hyperparameters given as text ---------------------------------------------------------------

BAD_SETTINGS = [
    ("epochs", "0"),
    ("epochs", "-3"),
    ("epochs", "1e3"),
    ("epochs", ""),
    ("epochs", "201"),
    ("batch_size", "0"),
    ("batch_size", "9000"),
    ("batch_size", "64.0"),
    ("lr", "nan"),
    ("lr", "-inf"),
    ("lr", "1e9"),
    ("lr", "0"),
    ("lr", "0x10"),
    ("lr", "1,5"),
    ("momentum", "1.5"),
    ("weight_decay", "-1"),
    ("label_smoothing", "0.6"),
    ("aug_rotation", "90"),
    ("aug_translate", "nan"),
    ("aug_scale", "-0.1"),
    ("train_subset", "5"),
    ("train_subset", "60000"),
    ("train_subset", "1.5k"),
    ("val_size", "-1"),
    ("val_size", "20001"),
    ("seed", "-1"),
    ("seed", "99999999999"),
    ("threads", "1000"),
    ("log_every", "0"),
    ("optimizer", "RMSprop"),
    ("schedule", "cosine"),
    ("loss", "hinge"),
    ("device", "tpu"),
    ("eval_test", "maybe"),
    ("compile", "2"),
    ("model_kwargs", "{bad json"),
    ("model_kwargs", "[64, 32]"),
]


@pytest.mark.parametrize(("name", "text"), BAD_SETTINGS)
def test_bad_setting_text_is_refused_naming_the_setting(name: str, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        TrainConfig.for_model("mlp", **{name: parse_value(name, text)})
    message = str(err.value)
    # Parse errors say "lr: cannot read ..."; range errors "learning rate must be between ...".
    assert name in message or (name == "lr" and "learning rate" in message), message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [('{"hidden": [0]}', "hidden"), ('{"hidden": [64], "colour": 3}', "colour")],
)
def test_bad_architecture_options_from_text(kwargs: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        TrainConfig.for_model("mlp", model_kwargs=parse_value("model_kwargs", kwargs))


# ---- dataset files -------------------------------------------------------------------------------

NAMES = list(MNIST_FILES.values())


@pytest.fixture
def mnist_copy(tmp_path: Path, mnist_dir: Path) -> Path:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(mnist_dir / f"{name}.gz", folder / f"{name}.gz")
    return folder


@pytest.fixture
def mirror(mnist_dir: Path, serve_folder: Callable[[Path], str]) -> str:
    """A local HTTP server on 127.0.0.1 serving the good MNIST files (never the internet)."""
    return serve_folder(mnist_dir) + "/"


def _flip_compressed_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the deflate stream: bad data or a CRC mismatch
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # an interrupted download


@pytest.mark.parametrize(
    ("damage", "name"), [(_flip_compressed_byte, NAMES[1]), (_truncate, NAMES[3])]
)
def test_damaged_data_file_is_detected_then_repaired_by_download(
    mnist_copy: Path, mirror: str, damage: Callable[[Path], None], name: str
) -> None:
    damaged = mnist_copy / f"{name}.gz"
    damage(damaged)
    with pytest.raises(DataError) as err:
        load_mnist(mnist_copy)
    message = str(err.value)
    assert str(damaged) in message and re.search(r"download (MNIST )?again", message), message
    with pytest.raises(DataError):
        verify_file(damaged, name)
    others = {n: (mnist_copy / f"{n}.gz").stat().st_mtime_ns for n in NAMES if n != name}

    assert download_mnist(mnist_copy, mirrors=[mirror], timeout=10) == mnist_copy
    verify_file(damaged, name)  # repaired in place
    assert {n: (mnist_copy / f"{n}.gz").stat().st_mtime_ns for n in others} == others
    assert sorted(p.name for p in mnist_copy.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert load_mnist(mnist_copy).test_labels.shape == (10_000,)


# ---- faults: a killed process, failed writes -----------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mnist_core.storage.checkpoints import load_checkpoint, save_checkpoint
    from mnist_core.storage.store import ModelStore

    mode, source, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    ckpt = load_checkpoint(source)
    real = {"checkpoint": os.replace, "store": os.link}[mode]

    def hang(*args, **kwargs):  # the bytes are written (and fsynced): now wait to be killed
        print("WRITTEN", flush=True)
        time.sleep(120)
        return real(*args, **kwargs)

    if mode == "checkpoint":
        os.replace = hang
        save_checkpoint(ckpt, target)
    else:
        os.link = hang
        ModelStore(pretrained_dir=target / "none", runs_dir=target).save(ckpt, "ann", "run")
    """
)


@pytest.mark.parametrize("mode", ["checkpoint", "store"])
def test_process_killed_mid_write_leaves_the_old_file(
    mode: str, tmp_path: Path, good_ckpt: Checkpoint
) -> None:
    """SIGKILL after the new bytes are written but before they are published: the file under
    the final name is the old one, whole, and the half-done file is never listed."""
    runs = tmp_path / "runs"
    target = tmp_path / "ckpt" / "m.pt" if mode == "checkpoint" else runs
    old_path = target if mode == "checkpoint" else runs / "ann" / "run.pt"
    save_checkpoint(good_ckpt, old_path)
    old = old_path.read_bytes()
    config = TrainConfig.for_model("resnet")  # larger, different content
    source = save_checkpoint(make_checkpoint(build_model(config), config), tmp_path / "new.src")

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode, str(source), str(target)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "WRITTEN", child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert old_path.read_bytes() == old
    assert load_checkpoint(old_path).model == "mlp"
    folder = old_path.parent
    leftovers = sorted(p.name for p in folder.iterdir() if p != old_path)
    assert leftovers and all(n.startswith(".") and not n.endswith(".pt") for n in leftovers)
    if mode == "store":
        listed = ModelStore(pretrained_dir=tmp_path / "none", runs_dir=runs).list("ann")
        assert [m.id for m in listed] == ["runs/ann/run"]


def test_failed_autosave_is_reported_and_the_model_stays_downloadable(
    make_manager: Callable[..., JobManager],
    store: ModelStore,
    raw: MnistRaw,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk fills up while the checkpoint is written (root ignores chmod, so the write
    itself is made to fail): the job still finishes, says why it was not saved, and its model
    can be downloaded from memory and saved once the disk has room again."""

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    manager = make_manager(1)
    job = manager.submit(tiny(train_subset=1000), owner="ann")
    snap = wait_done(manager, job)
    assert snap.status == "finished" and snap.checkpoint_id is None
    assert snap.save_error and "No space left on device" in snap.save_error
    assert "still available for download" in snap.save_error
    assert [p for p in store.runs_dir.rglob("*") if p.is_file()] == []  # no partial file

    ckpt = manager.checkpoint(job)
    assert ckpt is not None
    loaded = load_checkpoint(checkpoint_bytes(ckpt))  # the download, read back
    images = raw.test_images[:200].unsqueeze(1).float() / 255
    probs = predict(loaded.build_model(), images)
    np.testing.assert_allclose(probs, predict(ckpt.build_model(), images), atol=1e-6)
    accuracy = float((probs.argmax(1) == raw.test_labels[:200].numpy()).mean())
    assert accuracy > 0.3 and loaded.test_accuracy == snap.test_accuracy

    monkeypatch.undo()  # room on the disk again: saving by hand works
    saved = manager.save(job)
    assert saved == "runs/ann/mlp-1" and manager.snapshot(job).checkpoint_id == saved
    assert manager.snapshot(job).save_error is None


# ---- faults in training --------------------------------------------------------------------------


def _patch_loss(
    monkeypatch: pytest.MonkeyPatch, fault: Callable[[TrainConfig, int, torch.Tensor], torch.Tensor]
) -> None:
    """Make training.loss_fn call `fault(config, step, loss)` (step counted per job seed)."""
    real = training.loss_fn
    calls: dict[int, int] = {}
    lock = threading.Lock()

    def loss_fn(config: TrainConfig, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with lock:
            calls[config.seed] = calls.get(config.seed, 0) + 1
            step = calls[config.seed]
        return fault(config, step, real(config, logits, y))

    monkeypatch.setattr(training, "loss_fn", loss_fn)


def test_exception_in_one_training_thread_fails_that_job_only(
    make_manager: Callable[..., JobManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fault(config: TrainConfig, step: int, loss: torch.Tensor) -> torch.Tensor:
        if config.seed == 13 and step == 3:
            raise RuntimeError("simulated bug in a training step")
        return loss

    _patch_loss(monkeypatch, fault)
    manager = make_manager(2)
    bad = manager.submit(tiny(seed=13), owner="ann")
    good = manager.submit(tiny(seed=1, train_subset=1000), owner="bob")  # runs alongside
    s = wait_done(manager, bad)
    assert s.status == "failed" and s.step < s.total_steps
    assert "simulated bug" in s.message and "RuntimeError" in s.message
    assert s.traceback and "simulated bug in a training step" in s.traceback
    assert manager.model_copy(bad) is None and manager.checkpoint(bad) is None
    with pytest.raises(CheckpointError, match="cannot be saved"):
        manager.save(bad)
    assert wait_done(manager, good).status == "finished"
    after = manager.submit(tiny(seed=2), owner="ann")  # the manager keeps serving
    assert wait_done(manager, after).status == "finished"


@pytest.mark.parametrize("when", ["mid-epoch", "last step"])
def test_nan_loss_ends_as_diverged_never_finished(
    make_manager: Callable[..., JobManager],
    store: ModelStore,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    """A NaN loss mid-run, or a last update that turns the weights into NaN while its loss was
    still finite (the loss is checked before the update): diverged, with a hint, not saved."""
    config = tiny(epochs=2)  # 5 steps per epoch
    last = config.steps_per_epoch * config.epochs

    def fault(config: TrainConfig, step: int, loss: torch.Tensor) -> torch.Tensor:
        if when == "mid-epoch" and step == 3:
            return loss * float("nan")
        if when == "last step" and step == last:
            # Finite value (0), NaN gradient: d sqrt(|u|)/du at 0 is inf, times 0.
            return loss + (loss * 0).abs().sqrt()
        return loss

    _patch_loss(monkeypatch, fault)
    manager = make_manager(1)
    job = manager.submit(config, owner="ann")
    s = wait_done(manager, job)
    assert s.status == "diverged", (s.status, s.message)
    assert "Lower the learning rate" in s.message and s.error is None
    assert s.checkpoint_id is None and manager.checkpoint(job) is None
    assert store.list("ann") == store.list(None)  # nothing saved for this owner


# ---- double clicks -------------------------------------------------------------------------------


def test_double_clicks_are_harmless(
    make_manager: Callable[..., JobManager], store: ModelStore
) -> None:
    manager = make_manager(1)
    slow = dict(train_subset=20_000, val_size=100, epochs=3, log_every=1)
    # Start twice in quick succession (the UI guards against it; the manager must cope).
    first = manager.submit(tiny(**slow), owner="ann")
    second = manager.submit(tiny(**slow), owner="ann")
    assert manager.snapshot(second).queue_position == 1
    # Stop twice, on a running and on a queued job; pause and resume twice.
    assert manager.pause(first) is True and manager.pause(first) is False
    assert manager.resume(first) is True and manager.resume(first) is False
    assert manager.stop(second) is True and manager.stop(second) is False
    assert manager.stop(first) is True and manager.stop(first) is False
    assert wait_done(manager, first).status == "stopped"
    assert manager.snapshot(second).status == "stopped"
    assert manager.stop(first) is False and manager.pause(first) is False
    manager.heartbeat(first)  # a late heartbeat for a done job is fine

    # Save clicked twice at once from two threads: one file, one id.
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(manager.save(first))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ids) == 2 and ids[0] == ids[1] == "runs/ann/mlp-1"
    assert [m.id for m in store.list("ann") if not m.read_only] == ["runs/ann/mlp-1"]
    # The manager still serves.
    third = manager.submit(tiny(), owner="ann")
    assert wait_done(manager, third).status == "finished"
