"""Progress lines of the measuring tools: on stderr, so that stdout carries only results."""

from __future__ import annotations

import sys


def log(text: str) -> None:
    """Print one progress line on stderr, flushed (a subprocess's parent sees it at once)."""
    print(text, file=sys.stderr, flush=True)
