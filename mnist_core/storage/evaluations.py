"""Evaluations of checkpoints on the test set, kept on disk: computed once per checkpoint file.

Evaluating a ResNet on the 10,000 test digits takes 2.5-4.6 s on a 2-core CPU (LeNet-5 1.5-2 s,
the MLP 0.3 s; `python -m bench feel --only mistakes`, issue 29), more than a person should
wait for the Mistakes page, and no batch size, thread count or memory layout brought the
ResNet under 1.5 s there. So an evaluation is computed once, stored, and read back (a few ms)
by every later visitor and server process. The pretrained models' ones are shipped beside them
(`checkpoints/evaluations/`, made by `python -m mnist_core.storage.evaluations`), and the app
computes any that are missing in the background while the server starts (`ui.preload`): a
fresh server's first visitor otherwise asked for the ResNet's before it was done (5.5 s).

What is stored is the real evaluation of that exact file: the key is the sha256 of the
checkpoint's bytes and a hash of the test images and labels, so a rewritten checkpoint (or
another test set) misses and is evaluated afresh. The file holds the (N, 10) float32
probabilities and the loss; everything else `EvalResult` holds is derived from them by the
same function `evaluate` uses (`result_from_probabilities`), so a stored evaluation equals a
fresh one bit for bit.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mnist_core.models.common import NUM_CLASSES
from mnist_core.train.evaluation import EvalResult, evaluate, result_from_probabilities

log = logging.getLogger(__name__)

# Bump when what `evaluate` computes changes: older files are then never read again.
FORMAT = 1
# ~0.4 MB each (10,000 x 10 float32): 64 of them take ~26 MB. The least recently used go first.
KEEP = 64
SUFFIX = ".npz"
SHIPPED_FOLDER = "evaluations"  # under the pretrained checkpoints' folder

BuildModel = Callable[[], nn.Module]
_warming: list[threading.Thread] = []


@atexit.register
def _wait_at_exit() -> None:
    """Let an evaluation computed ahead end before the interpreter does: a process that exits
    while a daemon thread runs torch may abort (exit status 134; seen with a t-SNE thread)."""
    for thread in list(_warming):
        thread.join(timeout=30)


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes (a checkpoint: 0.3-1 MB, about a millisecond)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_digest(images: torch.Tensor, labels: torch.Tensor) -> str:
    """A hash of a test set's images and labels (shape, dtype, bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for t in (images, labels):
        c = torch.as_tensor(t).detach().to("cpu").contiguous()
        h.update(repr((tuple(c.shape), str(c.dtype))).encode())
        h.update(c.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class EvaluationCache:
    """Evaluations on disk under `folder`, one `.npz` per (checkpoint bytes, test set).
    Thread-safe: two threads asking for the same new evaluation compute it once (the second
    waits for the first, then reads its result). A folder that cannot be written only costs
    the saving: the evaluation is still returned (and logged)."""

    def __init__(self, folder: Path, keep: int = KEEP, shipped: Iterable[Path] = ()) -> None:
        """`shipped`: read-only folders searched first, by the same file names (the pretrained
        models' evaluations, computed once where they were trained: `checkpoints/evaluations`)."""
        self.folder = Path(folder)
        self.keep = keep
        self.shipped = [Path(p) for p in shipped]
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def path_for(self, checkpoint: Path, images: torch.Tensor, labels: torch.Tensor) -> Path:
        """The file that holds (or would hold) `checkpoint`'s evaluation on this test set."""
        name = f"{file_digest(checkpoint)[:32]}-{data_digest(images, labels)[:16]}-v{FORMAT}"
        return self.folder / f"{name}{SUFFIX}"

    def stored(
        self, checkpoint: Path, images: torch.Tensor, labels: torch.Tensor
    ) -> EvalResult | None:
        """The stored evaluation of `checkpoint` on this test set, or None when there is none
        (or it cannot be read)."""
        return self._stored_at(self.path_for(checkpoint, images, labels), labels)

    def _stored_at(self, path: Path, labels: torch.Tensor) -> EvalResult | None:
        """`stored`, by the file name `path_for` gave (both hashes are computed once a call)."""
        for folder in self.shipped:
            if (result := self._read(folder / path.name, labels, touch=False)) is not None:
                return result
        return self._read(path, labels)

    def evaluate(
        self,
        checkpoint: Path,
        build: BuildModel,
        images: torch.Tensor,
        labels: torch.Tensor,
    ) -> EvalResult:
        """`checkpoint`'s evaluation on (N,28,28) uint8 `images` with (N,) `labels`: read back
        when stored, else computed with the model `build()` returns (built from that same
        file) and stored."""
        path = self.path_for(checkpoint, images, labels)
        with self._lock:
            key_lock = self._key_locks.setdefault(path.name, threading.Lock())
        with key_lock:
            result = self._stored_at(path, labels)
            if result is None:
                result = evaluate(build(), images, labels)
                self._write(path, result)
        return result

    def warm(
        self,
        checkpoints: Iterable[tuple[Path, BuildModel]],
        data: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    ) -> threading.Thread:
        """Evaluate `checkpoints` one after another in a daemon thread, storing what is not
        stored yet; `data()` gives the test images and labels (called in
        that thread). A failure is logged and skips that checkpoint. Returns the thread."""
        items = list(checkpoints)

        # At the normal priority, unlike the t-SNE maps computed ahead: a visitor who opens the
        # Mistakes page meanwhile waits for this very evaluation, and at nice 10 it was starved
        # by the browser and the page (the ResNet's came 10 s after the server was ready).
        def run() -> None:
            try:
                images, labels = data()
            except Exception as e:  # no data yet: the page says so when it is opened
                log.info("Evaluations not computed ahead: %s", e)
                return
            for checkpoint, build in items:
                try:
                    self.evaluate(checkpoint, build, images, labels)
                except Exception:
                    log.exception("Could not evaluate %s ahead of time", checkpoint.name)

        thread = threading.Thread(target=run, name="evaluations-warm", daemon=True)
        _warming[:] = [t for t in _warming if t.is_alive()] + [thread]
        thread.start()
        return thread

    # ---- the files --------------------------------------------------------------------------
    def _read(self, path: Path, labels: torch.Tensor, touch: bool = True) -> EvalResult | None:
        try:
            with np.load(path, allow_pickle=False) as f:
                probs, loss = f["probabilities"], float(f["loss"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as e:
            log.warning("Stored evaluation %s unreadable, evaluating again: %s", path.name, e)
            return None
        y = torch.as_tensor(labels).cpu().numpy()
        if probs.shape != (len(y), NUM_CLASSES) or probs.dtype != np.float32:
            log.warning("Stored evaluation %s has the wrong shape, evaluating again", path.name)
            return None
        if touch:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: trimmed last
        return result_from_probabilities(probs, y, loss)

    def _write(self, path: Path, result: EvalResult) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, probabilities=result.probabilities, loss=np.float64(result.loss))
                os.replace(tmp, path)  # readers see the whole file or none
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            log.warning("Could not store an evaluation in %s: %s", self.folder, e.strerror or e)
            return
        self._trim()

    def _trim(self) -> None:
        def used(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:
                return 0.0

        files = sorted(self.folder.glob(f"*{SUFFIX}"), key=used, reverse=True)
        for old in files[self.keep :]:
            if not old.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    old.unlink()


def main() -> None:
    """Store the evaluations of the pretrained checkpoints in `<pretrained dir>/evaluations`,
    shipped with them: `python -m mnist_core.storage.evaluations` (after retraining one)."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.settings import settings
    from mnist_core.storage.checkpoints import load_checkpoint
    from mnist_core.storage.timelines import is_timeline_file

    folder = settings().pretrained_dir
    raw = load_mnist()
    cache = EvaluationCache(folder / SHIPPED_FOLDER, keep=len(list(folder.glob("*.pt"))))
    for path in sorted(folder.glob("*.pt")):
        if is_timeline_file(path):
            continue
        x, y = raw.test_images, raw.test_labels
        result = cache.evaluate(path, lambda p=path: load_checkpoint(p).build_model(), x, y)
        print(f"{path.name}: {result.accuracy:.2%} -> {cache.path_for(path, x, y).name}")


if __name__ == "__main__":
    main()
