"""Whose runs are whose: a visitor's cookie -> the name of their folder under the runs folder.

The cookie is the only key to a visitor's models, so nothing that can be seen (a folder name, a
model id in a CSV, a log line) may hold it. The folder is named by a keyed hash of the cookie
(HMAC-SHA256 with a server secret, first 128 bits): knowing a folder name does not give the
cookie, and without the secret a cookie cannot be matched to a folder either. The secret is
made once, at random, and kept beside the runs (`<runs_dir>/.owner-key`, mode 0600), so owners
keep their folders across restarts for as long as that disk lasts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from mnist_core.errors import CheckpointError

__all__ = ["KEY_FILE", "HideOwnerFolders", "adopt_legacy_folder", "owner_key", "owner_of"]

log = logging.getLogger(__name__)

KEY_FILE = ".owner-key"  # not a valid owner folder name (store.py's slugs never start with ".")
_KEY_BYTES = 32


def owner_key(runs_dir: Path) -> bytes:
    """The server's secret for `owner_of`, made on first use. Servers (or sessions) starting at
    once on one disk agree on one key: each writes a whole key to a file of its own and links
    it into place, which only the first can do, so nobody ever reads a half-written key (an
    exclusive create followed by a write let a loser read the file empty in between: 1 in 3
    CI runs of the concurrent test)."""
    path = Path(runs_dir) / KEY_FILE
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            mine = path.with_name(f"{KEY_FILE}.{secrets.token_hex(8)}.new")
            fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(_KEY_BYTES))
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):  # another made it first: theirs
                    os.link(mine, path)
            finally:
                mine.unlink(missing_ok=True)
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"Could not read or create the server's key for visitors' folders ({path}): {e}. "
            "Check that the runs folder ($MNIST_RUNS_DIR) is writable."
        ) from None
    if len(key) < 16:
        raise CheckpointError(
            f"The server's key for visitors' folders ({path}) is too short; delete the file and "
            "restart (visitors' saved models then stay on disk but are no longer listed)."
        )
    return key


def owner_of(visitor: str, key: bytes) -> str:
    """The owner id (folder name) of a visitor's cookie value: 32 lower-case hex digits."""
    return hmac.new(key, visitor.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def adopt_legacy_folder(runs_dir: Path, visitor: str, owner: str) -> bool:
    """Earlier versions named the folder by the cookie itself: move it to the owner's name once
    (only when the new one does not exist yet), so that a returning visitor keeps their models.
    True when a folder was moved."""
    old, new = Path(runs_dir) / visitor, Path(runs_dir) / owner
    if old == new or not old.is_dir() or new.exists():
        return False
    try:
        old.rename(new)
    except OSError as e:
        # Without the paths (and no traceback, which would print them): the old folder's name
        # is the visitor's cookie, and logs are read by more people than the runs folder.
        log.warning("could not move a visitor's models to their hashed folder: %s", e.strerror)
        return False
    return True


# An owner folder as a path component: "/<32 hex digits>" followed by a separator or the end.
_OWNER_IN_PATH = re.compile(r"(?<=[/\\])[0-9a-f]{32}(?=[/\\]|\b)")


class HideOwnerFolders(logging.Filter):
    """A logging filter that writes each owner folder in a logged path as "<visitor>", in the
    message and in a traceback's text: an exception raised on a visitor's file (a disk error, a
    bug) names its path, and logs are read by more people than the runs folder."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = _OWNER_IN_PATH.sub("<visitor>", message)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _OWNER_IN_PATH.sub("<visitor>", record.exc_text)
        return True
