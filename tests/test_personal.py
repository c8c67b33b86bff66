"""A visitor's handwriting set and best race times, kept beside their models (issue 27, item
3: a reload threw both away while the models survived)."""

from __future__ import annotations

from pathlib import Path

from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.handwriting import HandwritingSet
from mnist_core.storage.personal import HANDWRITING_FILE, VisitorFiles
from mnist_core.storage.store import ModelStore


def test_the_set_and_the_race_times_come_back_whole(tmp_path: Path, mnist_raw: MnistRaw) -> None:
    store = ModelStore(pretrained_dir=tmp_path / "pretrained", runs_dir=tmp_path / "runs")
    files = VisitorFiles(store.folder_of("0123456789abcdef0123456789abcdef"))
    assert len(files.load_handwriting()) == 0 and files.load_race_best() == {}
    images = [mnist_raw.test_images[i].numpy() for i in range(13)]
    labels = [int(mnist_raw.test_labels[i]) for i in range(13)]
    s = HandwritingSet.from_arrays(images, labels)
    files.save_handwriting(s)
    files.save_race_best({0.99: (9.25, "race", "abc123"), 0.995: (31.0, "wide", "def456")})

    again = VisitorFiles(store.folder_of("0123456789abcdef0123456789abcdef"))
    back = again.load_handwriting()
    assert list(back.labels) == labels
    assert (back.images == s.images).all()
    best = {0.99: (9.25, "race", "abc123"), 0.995: (31.0, "wide", "def456")}
    assert again.load_race_best() == best
    theirs = [m for m in store.list("0123456789abcdef0123456789abcdef") if not m.read_only]
    assert theirs == []  # the files are not listed as models

    again.save_handwriting(HandwritingSet())  # "Delete all": the file goes too
    assert not (again.folder / HANDWRITING_FILE).exists()


def test_an_unreadable_file_counts_as_none(tmp_path: Path) -> None:
    files = VisitorFiles(tmp_path / "someone")
    files.folder.mkdir()
    (files.folder / HANDWRITING_FILE).write_bytes(b"not a zip")
    (files.folder / ".race-best.json").write_text("{broken")
    assert len(files.load_handwriting()) == 0
    assert files.load_race_best() == {}
