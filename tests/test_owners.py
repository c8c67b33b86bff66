"""Visitors' folders named by a keyed hash of their cookie (`mnist_core.storage.owners`), so that
no folder name, model id or file name can be replayed as the cookie (issue 26, item 6)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mnist_core.errors import CheckpointError
from mnist_core.storage.checkpoints import make_checkpoint
from mnist_core.storage.owners import KEY_FILE, adopt_legacy_folder, owner_key, owner_of
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig
from mnist_core.train.loop import build_model
from ui.visitor import new_visitor_id


def test_the_owner_id_is_a_keyed_hash_that_differs_from_the_cookie(tmp_path):
    key = owner_key(tmp_path)
    visitor = new_visitor_id()
    owner = owner_of(visitor, key)
    assert owner != visitor and len(owner) == 32 and int(owner, 16) >= 0
    assert owner_of(visitor, key) == owner  # stable for the same key
    assert owner_of(visitor, os.urandom(32)) != owner  # another server's key: another folder
    assert owner_of(new_visitor_id(), key) != owner


def test_the_key_is_made_once_private_and_kept(tmp_path):
    first = owner_key(tmp_path)
    assert owner_key(tmp_path) == first  # a restart reads the same key
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600
    # Servers starting at once agree on one key, and none reads a half-written one (an exclusive
    # create and then a write once let a loser read it empty). 8 threads released together on
    # each of 30 fresh folders.
    for n in range(30):
        fresh = tmp_path / f"fresh{n}"
        go = threading.Barrier(8)

        def start(folder: Path = fresh, go: threading.Barrier = go) -> bytes:
            go.wait(10)
            return owner_key(folder)

        with ThreadPoolExecutor(8) as pool:
            keys = set(pool.map(lambda _: start(), range(8)))
        assert len(keys) == 1
        assert [f.name for f in fresh.iterdir()] == [KEY_FILE]  # no temporary file left


def test_a_damaged_key_is_a_message_with_the_fix(tmp_path):
    (tmp_path / KEY_FILE).write_text("not hex")
    with pytest.raises(CheckpointError, match="runs folder"):
        owner_key(tmp_path)
    (tmp_path / KEY_FILE).write_text("abcd")
    with pytest.raises(CheckpointError, match="delete the file"):
        owner_key(tmp_path)


def test_the_key_file_is_never_listed_as_an_owner(tmp_path):
    owner_key(tmp_path / "runs")
    store = ModelStore(pretrained_dir=tmp_path / "none", runs_dir=tmp_path / "runs")
    assert store.list(KEY_FILE) == []


def test_a_returning_visitor_keeps_the_models_saved_under_the_cookie(tmp_path):
    """Earlier versions named the folder by the cookie: it moves to the hashed name once."""
    runs = tmp_path / "runs"
    visitor = new_visitor_id()
    store = ModelStore(pretrained_dir=tmp_path / "none", runs_dir=runs)
    config = TrainConfig.for_model("mlp")
    store.save(make_checkpoint(build_model(config), config), visitor, "old run")
    owner = owner_of(visitor, owner_key(runs))
    assert adopt_legacy_folder(runs, visitor, owner)
    assert not (runs / visitor).exists()
    assert [m.name for m in store.list(owner) if m.owner] == ["old run"]
    assert not adopt_legacy_folder(runs, visitor, owner)  # once only


def test_a_folder_that_cannot_move_is_logged_without_the_cookie(tmp_path, caplog, monkeypatch):
    """The old folder's name is the cookie: a failed move must not print it (an OSError's
    text and traceback name both paths)."""
    runs = tmp_path / "runs"
    visitor = new_visitor_id()
    (runs / visitor).mkdir(parents=True)
    owner = owner_of(visitor, owner_key(runs))

    def busy(self, target):  # the file system refuses, as a busy mount would
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(self), str(target))

    monkeypatch.setattr(Path, "rename", busy)
    with caplog.at_level("DEBUG"):
        assert not adopt_legacy_folder(runs, visitor, owner)
    assert caplog.records and "busy" in caplog.text
    assert visitor not in caplog.text and owner not in caplog.text


def test_logged_paths_and_tracebacks_show_no_owner_folder(tmp_path):
    """Issue 26, item 6: an error on a visitor's file names its path; the app's log handler
    writes the owner folder in it as <visitor>, in the message and in the traceback."""
    import io
    import logging

    from mnist_core.storage.owners import HideOwnerFolders

    owner = owner_of("a-cookie-value", owner_key(tmp_path))
    path = tmp_path / owner / "lenet5-1.pt"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(HideOwnerFolders())
    logger = logging.getLogger("test_owners_hidden")
    logger.addHandler(handler)
    try:
        logger.warning("could not read %s", path)
        try:
            path.read_bytes()
        except OSError:
            logger.exception("reading failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert owner not in text and "a-cookie-value" not in text
    assert f"could not read {tmp_path}/<visitor>/lenet5-1.pt" in text
    assert "No such file or directory" in text and f"{tmp_path}/<visitor>/lenet5-1.pt" in text
    record = logging.LogRecord("x", logging.INFO, "f", 1, "job %s ended", ("0123456789ab",), None)
    assert HideOwnerFolders().filter(record) and record.getMessage() == "job 0123456789ab ended"
