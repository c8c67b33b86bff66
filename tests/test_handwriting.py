"""The personal set and its zip format: what `to_zip` writes `read_zip` reads back exactly; a
wrong or corrupt zip is refused with a message naming the problem; the limits hold."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.handwriting import (
    MAX_DIGITS,
    HandwritingError,
    HandwritingSet,
    read_folder,
    read_zip,
    split_held_out,
    to_zip,
    trainable_problem,
)


@pytest.fixture(scope="module")
def digits(raw: MnistRaw) -> HandwritingSet:
    return HandwritingSet.from_arrays(raw.test_images[:50].numpy(), raw.test_labels[:50].tolist())


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_zip_round_trip(digits: HandwritingSet, tmp_path) -> None:
    data = to_zip(digits)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        table = zf.read("labels.csv").decode()
    assert len(names) == 51 and table.splitlines()[0] == "file,label"
    assert table.splitlines()[1] == f"digit_0001.png,{digits.labels[0]}"
    back = read_zip(data)
    assert np.array_equal(back.images, digits.images)
    assert np.array_equal(back.labels, digits.labels)
    # The same as a folder, and as a zipped folder (labels.csv one level down).
    folder = tmp_path / "set"
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(folder)
    assert np.array_equal(read_folder(folder).images, digits.images)
    nested = _zip({f"mine/{n}": zipfile.ZipFile(io.BytesIO(data)).read(n) for n in names})
    assert np.array_equal(read_zip(nested).labels, digits.labels)


def test_other_images_go_through_the_draw_preprocessing(raw: MnistRaw) -> None:
    """A dark-on-light 200x200 scan of a 3 is read as the MNIST-style digit, bright on dark."""
    three = raw.test_images[18].numpy()
    assert int(raw.test_labels[18]) == 3
    scan = 255 - np.asarray(Image.fromarray(three).resize((200, 200)))
    back = read_zip(_zip({"a.png": _png(scan), "labels.csv": b"file,label\na.png,3\n"}))
    assert back.labels.tolist() == [3]
    img = back.images[0]
    assert img.shape == (28, 28) and img[0].max() == 0 and img.max() > 200


BLACK = _png(np.zeros((28, 28), np.uint8))
WHITE = _png(np.full((50, 50), 255, np.uint8))


def _one(png: bytes, label: str) -> bytes:
    return _zip({"a.png": png, "labels.csv": f"file,label\na.png,{label}\n".encode()})


BAD = {
    "not a zip": (b"hello", "not a readable zip file"),
    "no labels": (_zip({"a.png": b"x"}), "has no labels.csv"),
    "bad header": (_zip({"labels.csv": b"name,digit\na.png,1\n"}), "header file,label"),
    "empty table": (_zip({"labels.csv": b"file,label\n"}), "lists no digits"),
    "missing file": (_zip({"labels.csv": b"file,label\na.png,1\n"}), "which is not in it"),
    "bad label": (
        _one(BLACK, "x"),
        "must be a digit 0-9, not 'x'",
    ),
    "label 10": (
        _zip(
            {"a.png": _png(np.zeros((28, 28), np.uint8)), "labels.csv": b"file,label\na.png,10\n"}
        ),
        "must be a digit 0-9",
    ),
    "not an image": (
        _one(b"not a png", "1"),
        "is not a readable image",
    ),
    "blank image": (
        _zip(
            {
                "a.png": _png(np.full((50, 50), 255, np.uint8)),
                "labels.csv": b"file,label\na.png,1\n",
            }
        ),
        "holds no digit",
    ),
    "truncated": (to_zip(HandwritingSet())[:-30] + b"\0" * 10, "not a readable zip file"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_zips_are_refused_with_a_message(case: str) -> None:
    data, message = BAD[case]
    with pytest.raises(HandwritingError, match=message.replace("(", r"\(")):
        read_zip(data)


def test_corrupt_member_is_refused(digits: HandwritingSet) -> None:
    data = bytearray(to_zip(digits))
    at = data.find(b"digit_0002.png") + 40  # inside the first image's compressed bytes
    data[at : at + 20] = b"\xff" * 20
    with pytest.raises(HandwritingError):
        read_zip(bytes(data))


def test_limits(digits: HandwritingSet) -> None:
    rows = "file,label\n" + "".join(f"d{i}.png,1\n" for i in range(MAX_DIGITS + 1))
    with pytest.raises(HandwritingError, match="at most 2,000"):
        read_zip(_zip({"labels.csv": rows.encode()}))
    big = HandwritingSet(digits.digits * (MAX_DIGITS // len(digits)))
    assert len(big) == MAX_DIGITS
    with pytest.raises(HandwritingError, match="the most it can"):
        big.add(digits.images[0], 1)
    with pytest.raises(HandwritingError, match="at most 2,000"):
        big.extend(digits)
    with pytest.raises(HandwritingError, match="from 0 to 9"):
        digits.add(digits.images[0], 11)
    with pytest.raises(HandwritingError, match="28x28"):
        digits.add(np.zeros((20, 20)), 1)


def test_add_remove_counts(digits: HandwritingSet) -> None:
    s = HandwritingSet().add(np.full((28, 28), 0.5, np.float32), 4).add(digits.images[0], 7)
    assert s.counts().tolist() == [0, 0, 0, 0, 1, 0, 0, 1, 0, 0]
    assert s.images[0].max() == 128 and s.images.dtype == np.uint8
    assert len(s.remove(s.digits[0].id)) == 1 and len(s.remove("nope")) == 2


def test_trainable_and_the_held_back_split(raw: MnistRaw) -> None:
    labels = raw.test_labels.numpy()
    small = HandwritingSet.from_arrays(raw.test_images[:20].numpy(), labels[:20].tolist())
    assert "at least 30 labelled digits; your set has 20" in trainable_problem(small)
    idx = np.concatenate([np.flatnonzero(labels == d)[:4] for d in range(10)])
    ok = HandwritingSet.from_arrays(raw.test_images[idx].numpy(), labels[idx].tolist())
    assert trainable_problem(ok) is None
    few = HandwritingSet(ok.digits[:-6] + ok.digits[-4:-2])  # two 8s and two 9s, 36 in all
    problem = trainable_problem(few)
    assert problem is not None and "fewer of: 8, 9" in problem
    train, held = split_held_out(ok, 0.25, seed=0)
    assert len(train) == 30 and len(held) == 10
    assert held.counts().tolist() == [1] * 10 and train.counts().tolist() == [3] * 10
    assert not {d.id for d in train.digits} & {d.id for d in held.digits}
