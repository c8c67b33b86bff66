"""Counts in words for people: "1 epoch", "2 epochs", "1,200 digits" (issue 27, item 13: the
Models page, the fine-tune result and the command line said "1 epochs")."""

from __future__ import annotations

__all__ = ["count_of"]


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, in the plural (`plural`, else noun + "s") unless `n` is 1."""
    word = noun if n == 1 else (plural if plural is not None else noun + "s")
    return f"{n:,} {word}"
