"""Where checkpoints live: read-only pretrained models and each owner's own runs.

Layout (ids are what the UI passes around; they never contain a filesystem path):

    <pretrained_dir>/<stem>.pt         id "pretrained/<stem>"      read-only
    <runs_dir>/<owner>/<stem>.pt       id "runs/<owner>/<stem>"    the owner's runs and uploads
    <...>/<stem>.timeline.pt           that model's training timeline, if it has one

Every name that becomes part of a path is reduced to a slug ([a-z0-9_-], at most 60
characters), so no name or id can reach outside these folders. Writes go through
`checkpoints.save_checkpoint` (atomic) and never replace an existing file.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import unicodedata
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from mnist_core.errors import CheckpointError, TimelineError
from mnist_core.settings import RUNS_DIR_ENV, settings
from mnist_core.storage.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from mnist_core.storage.timelines import (
    TimelineLoad,
    is_timeline_file,
    load_timeline,
    read_limit,
    save_timeline,
    timeline_path,
)
from mnist_core.train.timeline import Timeline

__all__ = [
    "RUNS_DIR_ENV",
    "ModelStore",
    "StoredModel",
    "public_id",
    "slugify",
    "unique_name",
]

log = logging.getLogger(__name__)

SLUG_MAX = 60
_SLUG_RE = re.compile(r"[a-z0-9_][a-z0-9_-]{0,59}")
# Device names Windows refuses as file names whatever the extension ("con.pt" included).
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)
_CACHE_SIZE = 16  # loaded checkpoints kept in memory (ours are well under 2 MB each)
# List entries kept (a few hundred bytes each): listing a visitor's 64-run sweep must not
# read 64 files on every rerun of a page once they no longer fit in the checkpoint cache.
_ENTRY_CACHE_SIZE = 4096
_MAX_NAME = 100  # display names longer than this are cut
# Timelines kept loaded: up to 14 MB each (the default MLP's 16 snapshots); reading one again
# takes ~20 ms, so a few are enough for the models being looked at now.
_TIMELINE_CACHE_SIZE = 4


def slugify(name: str, fallback: str = "model") -> str:
    """A file-name-safe form of `name`: lower case ASCII letters, digits, '_' and '-'.

    Accents are dropped ("é" -> "e"), every other run of characters becomes one '-', leading
    and trailing '-' and '_' go, the result is cut to 60 characters, and an empty or reserved
    result ("CON", "nul"...) falls back to or is suffixed with `fallback`. So '../x' -> 'x',
    '/etc/passwd' -> 'etc-passwd', '' -> 'model', 'CON' -> 'con-model'.
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_")[:SLUG_MAX].strip("-_")
    if not slug:
        return fallback
    if slug in _RESERVED:
        slug = f"{slug}-{fallback}"
    return slug


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`... : the first that is not in `taken`."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def public_id(model_id: str) -> str:
    """A model's id as it may be shown or downloaded: "pretrained/<stem>" as it is, an owner's
    "runs/<owner>/<stem>" as "yours/<stem>". The owner folder is never shown: it is what finds a
    visitor's models on disk (storage/owners.py)."""
    parts = model_id.split("/")
    if len(parts) == 3 and parts[0] == "runs":
        return f"yours/{parts[2]}"
    return model_id


def _is_slug(text: str) -> bool:
    return bool(_SLUG_RE.fullmatch(text)) and text not in _RESERVED


@dataclass(frozen=True)
class StoredModel:
    """One checkpoint file as the UI lists it."""

    id: str  # "pretrained/<stem>" or "runs/<owner>/<stem>"
    name: str  # display name (the checkpoint's own name, else the file stem)
    path: Path
    owner: str | None  # None for pretrained models
    read_only: bool
    model: str  # architecture name, e.g. "lenet5"
    test_accuracy: float | None
    n_params: int
    train_seconds: float | None
    created: str  # ISO 8601 UTC, from the checkpoint
    sweep: str | None = None  # the name of the sweep that trained it, if one did


def picker_order(models: list[StoredModel]) -> list[StoredModel]:
    """`models` (in the store's order) for a model picker: every model not from a sweep first,
    then each sweep's runs together, best test accuracy first, the newest sweep first (issue
    27, item 17: each 12-run sweep put 12 entries between a visitor's own runs)."""
    single = [m for m in models if m.sweep is None]
    sweeps: dict[str, list[StoredModel]] = {}
    for m in models:  # the store lists a visitor's runs newest first
        if m.sweep is not None:
            sweeps.setdefault(m.sweep, []).append(m)
    grouped = [
        m for runs in sweeps.values() for m in sorted(runs, key=lambda r: -(r.test_accuracy or 0.0))
    ]
    return single + grouped


class ModelStore:
    """Lists, loads, saves, imports and deletes checkpoints. Thread-safe; one per process."""

    def __init__(self, pretrained_dir: Path | None = None, runs_dir: Path | None = None) -> None:
        """Each folder defaults to its setting (`mnist_core.settings`): `pretrained_dir` to
        $MNIST_CHECKPOINTS_DIR, else the checkpoints installed with the package; `runs_dir` to
        $MNIST_RUNS_DIR, else ./runs (relative to the current folder)."""
        if pretrained_dir is None or runs_dir is None:
            defaults = settings()
            pretrained_dir = defaults.pretrained_dir if pretrained_dir is None else pretrained_dir
            runs_dir = defaults.runs_dir if runs_dir is None else runs_dir
        self.pretrained_dir = Path(pretrained_dir)
        self.runs_dir = Path(runs_dir)
        self._lock = threading.Lock()  # guards the cache and the choice of a free file name
        self._save_lock = threading.Lock()  # one save at a time: display names stay unique
        self._cache: OrderedDict[tuple[str, int, int], Checkpoint] = OrderedDict()
        self._entries: OrderedDict[tuple[str, int, int, str], StoredModel] = OrderedDict()
        self._timelines: OrderedDict[tuple[object, ...], TimelineLoad] = OrderedDict()

    # ---- reading --------------------------------------------------------------------------
    def list(self, owner: str | None = None) -> list[StoredModel]:
        """Pretrained models first (by name), then `owner`'s runs, newest first.

        Files that cannot be read are left out of the list (and logged): one damaged file must
        not hide the others.
        """
        out = [
            m
            for path in _pt_files(self.pretrained_dir)
            if (m := self._describe(path, f"pretrained/{path.stem}", None)) is not None
        ]
        if owner is not None and _is_slug(owner):
            folder = self.runs_dir / owner
            runs = sorted(_pt_files(folder), key=_mtime, reverse=True)
            out += [
                m
                for path in runs
                if (m := self._describe(path, f"runs/{owner}/{path.stem}", owner)) is not None
            ]
        return out

    def load(self, model_id: str) -> Checkpoint:
        """The checkpoint with this id; unknown or unreadable -> CheckpointError.

        Loaded checkpoints are cached by (path, modification time, size), so the Draw page can
        call this on every rerun without reading the file again, and a rewritten file is read
        afresh.
        """
        path, _, _ = self._resolve(model_id)
        if not path.is_file():
            raise CheckpointError(
                f"There is no saved model {_label(model_id)}: it may have been deleted."
            )
        return self._load_path(path)

    def get(self, model_id: str) -> StoredModel:
        """The list entry of one id (CheckpointError when unknown or unreadable)."""
        path, owner, read_only = self._resolve(model_id)
        if not path.is_file():
            raise CheckpointError(
                f"There is no saved model {_label(model_id)}: it may have been deleted."
            )
        return _stored(self._load_path(path), path, model_id, owner, read_only)

    def timeline(self, model_id: str) -> TimelineLoad:
        """The training timeline of the model with this id, or None and why (missing, damaged,
        over the cap, or not this model's). CheckpointError only when the model itself is
        unknown or unreadable. Cached by both files' times and sizes."""
        path, _, _ = self._resolve(model_id)
        ckpt = self.load(model_id)
        tl_path = timeline_path(path)
        limit = read_limit(settings().timeline_max_bytes)
        try:
            st, tl = path.stat(), tl_path.stat()
            key: tuple[object, ...] = (
                str(path),
                st.st_mtime_ns,
                st.st_size,
                tl.st_mtime_ns,
                tl.st_size,
                limit,
            )
        except OSError:
            key = (str(path), "none")
        with self._lock:
            if key in self._timelines:
                self._timelines.move_to_end(key)
                return self._timelines[key]
        loaded = load_timeline(tl_path, ckpt, max_bytes=limit)
        with self._lock:
            self._timelines[key] = loaded
            while len(self._timelines) > _TIMELINE_CACHE_SIZE:
                self._timelines.popitem(last=False)
        return loaded

    # ---- writing --------------------------------------------------------------------------
    def save(
        self, ckpt: Checkpoint, owner: str, name: str, *, timeline: Timeline | None = None
    ) -> StoredModel:
        """Write `ckpt` as `owner`'s run called `name`; returns its list entry.

        The file is runs_dir/<owner>/<slug of name>.pt; an existing file is never replaced:
        "-2", "-3"... are appended instead. `name` (trimmed) is kept as the display name
        inside the checkpoint, made unique among the models `owner` sees (pretrained and
        their own): a second "lenet5 #1" is saved as "lenet5 #1 (2)", so two uploads of one
        file can be told apart. CheckpointError when `owner` is not a slug or the write fails.

        `timeline` (the run's snapshots, ending at `ckpt`'s weights) is written beside it,
        after it; a timeline that cannot be written is logged and left out: the model is saved.
        """
        folder = self._owner_dir(owner)
        wanted = " ".join(str(name or "").split())[:_MAX_NAME] or ckpt.name or "model"
        # One save at a time in this process, so two saves cannot pick the same free name.
        with self._save_lock:
            display = unique_name(wanted, {m.name for m in self.list(owner)})
            ckpt = dataclasses.replace(ckpt, name=display)
            base = slugify(display)
            # Write the whole file under a private name first, then publish it under the first
            # free name with os.link, which fails instead of replacing when that name exists
            # (also against another process sharing the folder). The staging name does not end
            # in .pt, so list() never shows a half-written file.
            staging = folder / f".{uuid.uuid4().hex}.staging"
            save_checkpoint(ckpt, staging, label="the model")
            try:
                path = self._publish(staging, folder, base)
            finally:
                staging.unlink(missing_ok=True)
        _write_timeline(timeline, path)
        return _stored(ckpt, path, f"runs/{owner}/{path.stem}", owner, False)

    def import_bytes(self, data: bytes, owner: str, name: str) -> StoredModel:
        """Validate uploaded `.pt` bytes fully, then save them as `owner`'s run `name`.

        A bad file raises CheckpointError (with the reason) and nothing is written.
        """
        self._owner_dir(owner, create=False)  # a bad owner is refused before any work
        ckpt = load_checkpoint(data)
        return self.save(ckpt, owner, name or ckpt.name)

    def delete(self, model_id: str, owner: str) -> None:
        """Delete one of `owner`'s own runs. Pretrained models and other owners' runs are
        refused with CheckpointError, as is an id that does not exist."""
        path, file_owner, read_only = self._resolve(model_id)
        if read_only:
            raise CheckpointError(f"{_label(model_id)} is a pretrained model: it is read-only.")
        if file_owner != owner:
            raise CheckpointError(
                f"{_label(model_id)} belongs to another visitor: it cannot be deleted."
            )
        try:
            path.unlink()
            timeline_path(path).unlink(missing_ok=True)
        except FileNotFoundError:
            raise CheckpointError(
                f"There is no saved model {_label(model_id)} to delete."
            ) from None
        except OSError as e:
            log.warning("Could not delete a saved model (%s): %s", path.name, e.strerror or e)
            raise CheckpointError(
                f"Could not delete {_label(model_id)}: {e.strerror or e}."
            ) from None
        with self._lock:
            for key in [k for k in self._cache if k[0] == str(path)]:
                del self._cache[key]

    def folder_of(self, owner: str) -> Path:
        """`owner`'s folder under the runs folder (not created here), for the files kept beside
        their models (`mnist_core.storage.personal`). CheckpointError for an invalid owner id."""
        return self._owner_dir(owner, create=False)

    # ---- internals ------------------------------------------------------------------------
    def _owner_dir(self, owner: str, *, create: bool = True) -> Path:
        if not isinstance(owner, str) or not _is_slug(owner):
            raise CheckpointError("Invalid owner id: use 1 to 60 of a-z, 0-9, '_' and '-'.")
        folder = self.runs_dir / owner
        if create:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                log.warning("Could not create a visitor's runs folder: %s", e.strerror or e)
                raise CheckpointError(
                    f"Could not create a folder for your models on the server: {e.strerror or e}."
                ) from None
        return folder

    def _publish(self, staging: Path, folder: Path, base: str) -> Path:
        for n in range(1, 10_000):
            suffix = "" if n == 1 else f"-{n}"
            path = folder / f"{base[: SLUG_MAX - len(suffix)]}{suffix}.pt"
            try:
                os.link(staging, path)
                return path
            except FileExistsError:
                continue
            except OSError:
                # No hard links on this filesystem: check-then-rename under the lock instead
                # (safe within this process, which is the one the app runs in).
                with self._lock:
                    if path.exists():
                        continue
                    os.replace(staging, path)
                    return path
        raise CheckpointError(f"Could not find a free file name for {base!r}.")

    def _resolve(self, model_id: str) -> tuple[Path, str | None, bool]:
        """id -> (path, owner, read_only). Refuses any id that is not exactly one of the two
        forms with slug-safe parts, so '..', absolute paths and separators never get through."""
        parts = model_id.split("/") if isinstance(model_id, str) else []
        if len(parts) == 2 and parts[0] == "pretrained" and _is_stem(parts[1]):
            return self.pretrained_dir / f"{parts[1]}.pt", None, True
        if len(parts) == 3 and parts[0] == "runs" and _is_slug(parts[1]) and _is_stem(parts[2]):
            return self.runs_dir / parts[1] / f"{parts[2]}.pt", parts[1], False
        raise CheckpointError(f"There is no saved model {_label(model_id)}.")

    def _load_path(self, path: Path) -> Checkpoint:
        try:
            st = path.stat()
        except OSError:
            raise CheckpointError(
                f"The saved model {path.stem!r} does not exist any more: it may have been deleted."
            ) from None
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        # Outside the lock: reading a file can take a while. Messages name the model, not the
        # server's path (which shows the visitor's id).
        ckpt = load_checkpoint(path, label=f"The saved model {path.stem!r}")
        with self._lock:
            self._cache[key] = ckpt
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return ckpt

    def _describe(self, path: Path, model_id: str, owner: str | None) -> StoredModel | None:
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size, model_id)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        try:
            entry = _stored(self._load_path(path), path, model_id, owner, owner is None)
        except CheckpointError as e:
            log.warning("Skipping unreadable checkpoint %s: %s", path.name, e)
            return None
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > _ENTRY_CACHE_SIZE:
                self._entries.popitem(last=False)
        return entry


def _label(model_id: object) -> str:
    """A model id as messages name it: its file stem, e.g. 'lenet5-1', never the owner part
    of "runs/<owner>/<stem>" (a visitor's id is theirs alone)."""
    stem = model_id.rsplit("/", 1)[-1] if isinstance(model_id, str) else ""
    return repr(stem) if _is_stem(stem) else "with that name"


def _is_stem(stem: str) -> bool:
    """A file stem we will look up: pretrained files may have any plain name (e.g.
    'LeNet5_v1'), but never a separator, a leading dot, or a control character."""
    return (
        0 < len(stem) <= 200
        and not stem.startswith(".")
        and not any(c in stem for c in "/\\:")
        and stem.isprintable()
    )


def _pt_files(folder: Path) -> list[Path]:
    try:
        return sorted(
            p
            for p in folder.iterdir()
            if p.suffix == ".pt" and _is_stem(p.stem) and not is_timeline_file(p) and p.is_file()
        )
    except OSError:  # a missing folder is an empty list
        return []


def _write_timeline(timeline: Timeline | None, path: Path) -> None:
    """The timeline beside the checkpoint just published at `path` (a stale one of an earlier
    file of that name is removed when there is none)."""
    target = timeline_path(path)
    try:
        if timeline is None:
            target.unlink(missing_ok=True)
        else:
            save_timeline(timeline, target)
    except (OSError, TimelineError) as e:
        log.warning("The training timeline of %s was not saved: %s", path.name, e)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _stored(
    ckpt: Checkpoint, path: Path, model_id: str, owner: str | None, read_only: bool
) -> StoredModel:
    seconds = ckpt.metrics.get("train_seconds")
    return StoredModel(
        id=model_id,
        name=ckpt.name or path.stem,
        path=path,
        owner=owner,
        read_only=read_only,
        model=ckpt.model,
        test_accuracy=ckpt.test_accuracy,
        n_params=ckpt.n_params,
        train_seconds=float(seconds) if isinstance(seconds, int | float) else None,
        created=ckpt.created,
        sweep=sweep if isinstance(sweep := ckpt.metrics.get("sweep"), str) and sweep else None,
    )
