"""The model store: ids and slugs that never leave their folders, no overwrites, safe imports,
and delete rules. No training: checkpoints of untrained models are enough."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
import torch

from mnist_core.errors import CheckpointError
from mnist_core.storage.checkpoints import (
    Checkpoint,
    checkpoint_bytes,
    make_checkpoint,
    save_checkpoint,
)
from mnist_core.storage.store import ModelStore, slugify
from mnist_core.train.config import TrainConfig
from mnist_core.train.loop import build_model


@pytest.fixture(scope="module")
def ckpt() -> Checkpoint:
    config = TrainConfig.for_model("lenet5")
    metrics = {"test_accuracy": 0.5, "train_seconds": 12.5}
    return make_checkpoint(build_model(config), config, metrics, name="original")


@pytest.fixture
def dirs(tmp_path: Path, ckpt: Checkpoint) -> tuple[Path, Path]:
    """A pretrained folder holding lenet.pt, and an empty runs folder (not created yet)."""
    pretrained = tmp_path / "pretrained"
    save_checkpoint(ckpt, pretrained / "lenet.pt")
    return pretrained, tmp_path / "runs"


@pytest.fixture
def store(dirs) -> ModelStore:
    return ModelStore(pretrained_dir=dirs[0], runs_dir=dirs[1])


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class Evil:
    """Unpickling this would call print: a stand-in for code execution."""

    def __reduce__(self):
        return (print, ("this should never run",))


# ---- slugs and paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My LeNet #3", "my-lenet-3"),
        ("../x", "x"),
        ("/etc/passwd", "etc-passwd"),
        ("..", "model"),
        ("", "model"),
        ("   ", "model"),
        ("CON", "con-model"),
        ("nul", "nul-model"),
        ("Été 2024!", "ete-2024"),
        ("a\\b\x00c", "a-b-c"),
        ("x" * 100, "x" * 60),
        ("under_score-dash", "under_score-dash"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_save_stays_in_the_owners_folder_and_never_overwrites(store, dirs, ckpt, tmp_path):
    pretrained, runs = dirs
    pretrained_before = all_files(pretrained)
    a = store.save(ckpt, "ann", "../../pretrained/lenet")
    b = store.save(ckpt, "ann", "../../pretrained/lenet")
    c = store.save(ckpt, "ann", "/etc/passwd")
    assert a.path == runs / "ann" / "pretrained-lenet.pt"
    assert b.path == runs / "ann" / "pretrained-lenet-2.pt"  # the first is kept
    assert c.id == "runs/ann/etc-passwd"
    assert a.id == "runs/ann/pretrained-lenet" and a.owner == "ann" and not a.read_only
    assert a.name == "../../pretrained/lenet"  # the display name is kept as typed
    assert (a.model, a.test_accuracy, a.train_seconds) == ("lenet5", 0.5, 12.5)
    assert a.n_params == ckpt.n_params > 0
    assert all_files(pretrained) == pretrained_before  # pretrained untouched
    assert sorted(p.name for p in (runs / "ann").iterdir()) == [
        "etc-passwd.pt",
        "pretrained-lenet-2.pt",
        "pretrained-lenet.pt",
    ]  # no temporary files left behind
    assert {p for p in tmp_path.rglob("*.pt")} == {a.path, b.path, c.path, pretrained / "lenet.pt"}


def test_long_names_keep_their_suffix_within_60_characters(store, ckpt):
    first = store.save(ckpt, "ann", "n" * 80)
    second = store.save(ckpt, "ann", "n" * 80)
    assert first.path.stem == "n" * 60
    assert second.path.stem == "n" * 58 + "-2"


@pytest.mark.parametrize("owner", ["../x", "", "..", "a/b", "Ann", "con", "x" * 61, "-lead"])
def test_invalid_owner_is_refused_and_nothing_written(store, dirs, ckpt, owner):
    with pytest.raises(CheckpointError, match="Invalid owner"):
        store.save(ckpt, owner, "name")
    assert not dirs[1].exists()


def test_concurrent_saves_of_one_name_get_distinct_files(store, ckpt):
    ids: list[str] = []
    lock = threading.Lock()

    def save() -> None:
        stored = store.save(ckpt, "ann", "same")
        with lock:
            ids.append(stored.id)

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(ids) == sorted(["runs/ann/same"] + [f"runs/ann/same-{n}" for n in range(2, 9)])


# ---- listing and loading -------------------------------------------------------------------


def test_list_pretrained_first_then_own_runs_newest_first(store, dirs, ckpt):
    runs = dirs[1]
    old = store.save(ckpt, "ann", "old")
    new = store.save(ckpt, "ann", "new")
    os.utime(old.path, (time.time() - 60, time.time() - 60))
    store.save(ckpt, "bob", "bobs")
    (runs / "ann" / "damaged.pt").write_bytes(b"not a checkpoint")  # skipped, not fatal
    listed = store.list("ann")
    assert [m.id for m in listed] == ["pretrained/lenet", new.id, old.id]
    assert listed[0].read_only and listed[0].owner is None and listed[0].name == "original"
    assert [m.id for m in store.list()] == ["pretrained/lenet"]
    assert [m.id for m in store.list("../ann")] == ["pretrained/lenet"]


def test_load_by_id_is_cached_until_the_file_changes(store, dirs, ckpt):
    first = store.load("pretrained/lenet")
    assert store.load("pretrained/lenet") is first  # no second read
    changed = make_checkpoint(
        build_model(TrainConfig.for_model("lenet5", seed=1)),
        None,
        model_name="lenet5",
        name="changed",
    )
    save_checkpoint(changed, dirs[0] / "lenet.pt")
    stat = (dirs[0] / "lenet.pt").stat()
    os.utime(dirs[0] / "lenet.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert store.load("pretrained/lenet").name == "changed"


@pytest.mark.parametrize(
    "model_id",
    [
        "pretrained/missing",
        "runs/ann/missing",
        "runs/../pretrained/lenet",
        "pretrained/../runs/ann/x",
        "runs/ann/../../pretrained/lenet",
        "/etc/passwd",
        "pretrained/.hidden",
        "pretrained",
        "lenet",
        "",
    ],
)
def test_unknown_or_malicious_ids_are_refused(store, model_id):
    with pytest.raises(CheckpointError):
        store.load(model_id)


def test_runs_dir_defaults_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert ModelStore().runs_dir == tmp_path / "elsewhere"
    monkeypatch.delenv("MNIST_RUNS_DIR")
    assert ModelStore().runs_dir == Path("runs")


# ---- importing -----------------------------------------------------------------------------


def test_import_of_a_good_file(store, ckpt):
    stored = store.import_bytes(checkpoint_bytes(ckpt), "ann", "Uploaded one")
    assert stored.id == "runs/ann/uploaded-one" and stored.name == "Uploaded one"
    loaded = store.load(stored.id)
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in ckpt.state_dict.items())


def _evil_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"model": "lenet5", "state_dict": {}, "x": Evil()}, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make_data", "reason"),
    [
        (lambda c: b"", "empty"),
        (lambda c: b"hello, not a checkpoint", "not a readable checkpoint"),
        (lambda c: checkpoint_bytes(c)[:1000], "not a readable checkpoint"),
        (lambda c: _evil_bytes(), "could run code"),
    ],
)
def test_import_of_a_bad_file_changes_nothing(store, dirs, ckpt, make_data, reason, tmp_path):
    before = all_files(tmp_path)
    with pytest.raises(CheckpointError, match=reason):
        store.import_bytes(make_data(ckpt), "ann", "bad")
    assert all_files(tmp_path) == before
    assert not dirs[1].exists()


# ---- deleting ------------------------------------------------------------------------------


def test_delete_rules(store, dirs, ckpt):
    mine = store.save(ckpt, "ann", "mine")
    theirs = store.save(ckpt, "bob", "theirs")
    with pytest.raises(CheckpointError, match="read-only"):
        store.delete("pretrained/lenet", "ann")
    with pytest.raises(CheckpointError, match="another visitor"):
        store.delete(theirs.id, "ann")
    with pytest.raises(CheckpointError):
        store.delete("runs/ann/../bob/theirs", "ann")
    assert (dirs[0] / "lenet.pt").exists() and theirs.path.exists()
    store.load(mine.id)  # cached...
    store.delete(mine.id, "ann")
    assert not mine.path.exists()
    with pytest.raises(CheckpointError):  # ...and forgotten
        store.load(mine.id)
    with pytest.raises(CheckpointError, match="no saved model"):
        store.delete(mine.id, "ann")


# ---- names and messages people read (issue 11) -----------------------------------------------


def test_the_same_file_uploaded_twice_gets_a_name_of_its_own(store, ckpt):
    """Issue 11 item 5: two uploads of one .pt were two entries with the same name."""
    data = checkpoint_bytes(ckpt)
    first = store.import_bytes(data, "ann", "")
    second = store.import_bytes(data, "ann", "")
    third = store.import_bytes(data, "ann", "")
    # "original" is also the pretrained model's name (the same checkpoint): taken as well.
    assert [first.name, second.name, third.name] == ["original (2)", "original (3)", "original (4)"]
    named = [store.save(ckpt, "ann", "lenet5 #1").name for _ in range(2)]
    assert named == ["lenet5 #1", "lenet5 #1 (2)"]
    assert store.save(ckpt, "bob", "lenet5 #1").name == "lenet5 #1"  # per visitor
    names = [m.name for m in store.list("ann")]
    assert len(names) == len(set(names)) == 6
    assert store.load(second.id).name == "original (3)"  # the name is the file's own


def test_messages_name_the_model_never_a_path_or_a_visitor_id(store, dirs, ckpt, tmp_path):
    """Issue 11 item 21: no runs/<owner>/... in what people read."""
    owner = "0123456789abcdef0123456789abcdef"
    mine = store.save(ckpt, owner, "mine")
    messages = []
    for action in (
        lambda: store.delete(f"runs/{owner}/gone", owner),
        lambda: store.delete(mine.id, "someone-else"),
        lambda: store.load(f"runs/{owner}/gone"),
        lambda: store.get(f"runs/{owner}/gone"),
    ):
        with pytest.raises(CheckpointError) as info:
            action()
        messages.append(str(info.value))
    mine.path.write_bytes(b"damaged")
    with pytest.raises(CheckpointError) as info:
        store.load(mine.id)
    messages.append(str(info.value))
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(CheckpointError) as info:
        ModelStore(pretrained_dir=dirs[0], runs_dir=blocked).save(ckpt, owner, "x")
    messages.append(str(info.value))
    for message in messages:
        assert owner not in message and str(tmp_path) not in message and "runs/" not in message
    assert "'gone'" in messages[0] and "'mine' is not a readable checkpoint" in messages[4]


def test_pickers_list_each_sweeps_runs_together_after_the_other_models(tmp_path: Path) -> None:
    """Issue 27, item 17: each 12-run sweep put 12 entries between a visitor's own runs."""
    from mnist_core.storage.store import picker_order

    store = ModelStore(pretrained_dir=tmp_path / "pretrained", runs_dir=tmp_path / "runs")
    config = TrainConfig.for_model("mlp")
    model = build_model(config)
    saved = 0

    def save(name: str, accuracy: float, sweep: str | None = None) -> None:
        nonlocal saved
        metrics = {"test_accuracy": accuracy, **({"sweep": sweep} if sweep else {})}
        entry = store.save(make_checkpoint(model, config, metrics), "someone", name)
        saved += 1
        os.utime(entry.path, (1e9 + saved, 1e9 + saved))  # one second apart: a clear order

    save("first", 0.97)
    save("a · lr=0.1", 0.95, "a")
    save("a · lr=0.01", 0.98, "a")
    save("middle", 0.96)
    save("b · lr=0.1", 0.90, "b")
    save("last", 0.99)
    listed = store.list("someone")
    assert {m.name: m.sweep for m in listed}["a · lr=0.01"] == "a"
    order = [m.name for m in picker_order(listed)]
    singles = [m.name for m in listed if m.sweep is None]
    assert order[: len(singles)] == singles  # the store's own order: newest first
    assert order[len(singles) :] == ["b · lr=0.1", "a · lr=0.01", "a · lr=0.1"]
