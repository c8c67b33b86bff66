"""A visitor's own things beside their models: their handwriting set and their best race times.

They are kept in the visitor's folder under the runs folder (`ModelStore.folder_of`), as the
models are, with the same rules: there until the visitor deletes them (or the disk goes), and
found again after a reload or a restart through the visitor's cookie (issue 27, item 3: a reload
threw away 13 labelled digits and the sidebar's best race time, while the models survived). The
files' names start with a dot: the store lists only `*.pt`, so they never show as models.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path

from mnist_core.digits.handwriting import HandwritingSet, read_zip, to_zip
from mnist_core.errors import MnistError

__all__ = ["HANDWRITING_FILE", "RACE_BEST_FILE", "RaceBest", "VisitorFiles"]

log = logging.getLogger(__name__)

HANDWRITING_FILE = ".handwriting.zip"  # the set as the Download button gives it
RACE_BEST_FILE = ".race-best.json"

# target accuracy -> (training seconds, run name, job id)
RaceBest = dict[float, tuple[float, str, str]]


class VisitorFiles:
    """Reads and writes one visitor's files in `folder` (their folder under the runs folder).
    A file that cannot be read counts as absent (logged); a write that fails raises MnistError
    with what happened, and leaves the previous file whole."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    # ---- the handwriting set ------------------------------------------------------------------
    def load_handwriting(self) -> HandwritingSet:
        path = self.folder / HANDWRITING_FILE
        try:
            return read_zip(path.read_bytes(), "your saved handwriting")
        except FileNotFoundError:
            return HandwritingSet()
        except (OSError, MnistError) as e:
            log.warning("a visitor's saved handwriting could not be read: %s", e)
            return HandwritingSet()

    def save_handwriting(self, s: HandwritingSet) -> None:
        """Keep `s` (an empty set removes the file)."""
        if len(s) == 0:
            self._remove(HANDWRITING_FILE)
        else:
            self._write(HANDWRITING_FILE, to_zip(s))

    # ---- best race times ----------------------------------------------------------------------
    def load_race_best(self) -> RaceBest:
        path = self.folder / RACE_BEST_FILE
        try:
            raw = json.loads(path.read_text())
            best: RaceBest = {}
            for row in raw:
                target, seconds = float(row["target"]), float(row["seconds"])
                if math.isfinite(target) and math.isfinite(seconds) and seconds >= 0:
                    best[target] = (seconds, str(row["name"]), str(row["job_id"]))
            return best
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError) as e:
            log.warning("a visitor's best race times could not be read: %s", e)
            return {}

    def save_race_best(self, best: RaceBest) -> None:
        rows = [
            {"target": t, "seconds": s, "name": name, "job_id": job}
            for t, (s, name, job) in sorted(best.items())
        ]
        self._write(RACE_BEST_FILE, json.dumps(rows, indent=1).encode())

    # ---- files --------------------------------------------------------------------------------
    def _write(self, name: str, data: bytes) -> None:
        """Whole or not at all: a temporary file beside it, then renamed over it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{name}.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.folder / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise MnistError(f"Could not keep it on the server: {e.strerror or e}.") from None

    def _remove(self, name: str) -> None:
        try:
            (self.folder / name).unlink(missing_ok=True)
        except OSError as e:
            raise MnistError(f"Could not delete it on the server: {e.strerror or e}.") from None
