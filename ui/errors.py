"""Turn every failure into a message for people: no traceback ever reaches the page.

`MnistError` messages are written for users and shown as they are; anything else is a bug,
logged with its traceback on the server and shown as a short, friendly apology.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import streamlit as st

from mnist_core.errors import MnistError

log = logging.getLogger("mnist_playground")

P = ParamSpec("P")
R = TypeVar("R")


def generic_message(action: str) -> str:
    return (
        f"Something went wrong while {action}. It has been logged for the developers; "
        "please try again, and reload the page if it keeps happening."
    )


def show_error(exc: BaseException, action: str) -> None:
    """Show `exc` on the page: its own message for an MnistError, a generic one otherwise."""
    if isinstance(exc, MnistError):
        st.error(str(exc), icon=":material/error:")
    else:
        log.error("Unexpected error while %s", action, exc_info=exc)
        st.error(generic_message(action), icon=":material/sentiment_dissatisfied:")


@contextmanager
def friendly_errors(action: str) -> Iterator[None]:
    """Run a block; an exception ends the block and is shown as a message instead.

    `st.rerun()` and `st.stop()` pass through (they are BaseExceptions, not Exceptions).
    """
    try:
        yield
    except Exception as e:
        show_error(e, action)


def message_for(exc: Exception, action: str) -> str:
    """The text to show for `exc` (for callbacks, which store it to show on the next run)."""
    if isinstance(exc, MnistError):
        return str(exc)
    log.error("Unexpected error while %s", action, exc_info=exc)
    return generic_message(action)


def guarded_callback(
    action: str, flash_key: str
) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Decorate a widget callback: an exception becomes a message in session state
    (`flash_key`, a list of (level, text)) that the page shows on the run that follows."""

    def wrap(fn: Callable[P, None]) -> Callable[P, None]:
        @wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                fn(*args, **kwargs)
            except Exception as e:
                flash(flash_key, "error", message_for(e, action))

        return inner

    return wrap


def flash(flash_key: str, level: str, text: str) -> None:
    """Queue a message to show once on the next run of the page that owns `flash_key`."""
    st.session_state.setdefault(flash_key, []).append((level, text))


def show_flashes(flash_key: str) -> None:
    """Show and clear the messages queued under `flash_key`."""
    messages = st.session_state.get(flash_key) or []
    st.session_state[flash_key] = []
    for level, text in messages:
        {"error": st.error, "warning": st.warning, "success": st.success}.get(level, st.info)(text)
