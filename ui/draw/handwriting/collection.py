"""The visitor's set: counts per digit, a gallery with delete, the zip download and upload."""

from __future__ import annotations

import math

import streamlit as st

from mnist_core.digits.handwriting import MAX_DIGITS, HandwritingSet, read_zip, to_zip
from mnist_core.errors import MnistError
from mnist_core.words import count_of
from ui import keys
from ui.errors import flash, guarded_callback
from ui.state import keep_handwriting
from ui.widgets import digit_image

PAGE_SIZE = 30  # digits per gallery page (newest first)
GALLERY_COLUMNS = 10
MAX_ZIP_MB = 50


def the_set() -> HandwritingSet:
    return st.session_state[keys.HW_SET]


def counts_line(s: HandwritingSet) -> str:
    """E.g. "0: 3 · 1: 5 · 2: 0 ..." for the ten digits."""
    return " · ".join(f"**{d}**: {n}" for d, n in enumerate(s.counts()))


@guarded_callback("deleting the digit", keys.HW_FLASH)
def _delete(digit_id: str) -> None:
    _keep(the_set().remove(digit_id))
    st.session_state[keys.HW_LAST] = None


@guarded_callback("clearing your set", keys.HW_FLASH)
def _clear() -> None:
    n = len(the_set())
    _keep(HandwritingSet())
    st.session_state[keys.HW_LAST] = None
    flash(keys.HW_FLASH, "info", f"Removed all {count_of(n, 'digit')} from your set.")


def _keep(s: HandwritingSet) -> None:
    """The set in the session and on the server; a warning when the server could not keep it."""
    problem = keep_handwriting(s)
    if problem:
        flash(keys.HW_FLASH, "warning", problem)


def _apply(uploaded: HandwritingSet, replace: bool) -> None:
    ss = st.session_state
    try:
        _keep(uploaded if replace else the_set().extend(uploaded))
    except MnistError as e:
        flash(keys.HW_FLASH, "error", str(e))
        return
    ss[keys.HW_UPLOAD_N] += 1  # an empty uploader: the same zip is not applied twice
    ss[keys.HW_PAGE] = 1
    verb = "Replaced your set with" if replace else "Added"
    flash(
        keys.HW_FLASH,
        "success",
        f"{verb} {count_of(len(uploaded), 'digit')} ({len(ss[keys.HW_SET])} now).",
    )


def _gallery(s: HandwritingSet) -> None:
    digits = list(reversed(s.digits))  # newest first
    pages = max(1, math.ceil(len(digits) / PAGE_SIZE))
    ss = st.session_state
    if not 1 <= ss[keys.HW_PAGE] <= pages:
        ss[keys.HW_PAGE] = 1
    if pages > 1:
        st.number_input(f"Page (of {pages})", 1, pages, key=keys.HW_PAGE, width=160)
    start = (ss[keys.HW_PAGE] - 1) * PAGE_SIZE
    shown = digits[start : start + PAGE_SIZE]
    for row in range(0, len(shown), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, d in zip(cols, shown[row : row + GALLERY_COLUMNS], strict=False):
            with col:
                st.image(digit_image(d.image, 56), caption=f"{d.label}")
                st.button(
                    "",
                    key=f"hw_del_{d.id}",
                    icon=":material/delete:",
                    on_click=_delete,
                    args=(d.id,),
                    help=f"Delete this {d.label} from your set",
                )


def _upload() -> None:
    ss = st.session_state
    upload = st.file_uploader(
        "Upload a set (zip)",
        type=["zip"],
        key=f"hw_upload_{ss[keys.HW_UPLOAD_N]}",
        help=f"A zip as downloaded here: PNGs plus labels.csv (file,label); at most "
        f"{MAX_DIGITS:,} digits, {MAX_ZIP_MB} MB.",
    )
    if upload is None:
        return
    try:
        uploaded = read_zip(upload.getvalue(), name=upload.name)
    except MnistError as e:
        st.error(f"{e} Your set is unchanged.", icon=":material/folder_off:")
        return
    st.info(f"{upload.name}: {count_of(len(uploaded), 'digit')}. {counts_line(uploaded)}")
    cols = st.columns(2)
    cols[0].button(
        f"Add them to my {count_of(len(the_set()), 'digit')}",
        key="hw_upload_add",
        on_click=guarded_callback("adding the uploaded digits", keys.HW_FLASH)(_apply),
        args=(uploaded, False),
        disabled=not len(the_set()),
    )
    cols[1].button(
        "Replace my set with them",
        key="hw_upload_replace",
        type="primary",
        on_click=guarded_callback("loading the uploaded digits", keys.HW_FLASH)(_apply),
        args=(uploaded, True),
    )


def collection_tab() -> None:
    s = the_set()
    if not len(s):
        st.caption(
            "Your set is empty. Draw a digit above and say which it is; or upload a set you "
            "downloaded before."
        )
    else:
        st.markdown(f"{count_of(len(s), 'digit')}: {counts_line(s)}")
        cols = st.columns([1, 1, 3])
        cols[0].download_button(
            "Download (zip)",
            data=lambda: to_zip(s),  # built when clicked
            file_name="my_handwriting.zip",
            mime="application/zip",
            key="hw_download",
            icon=":material/download:",
            on_click="ignore",
            help="PNGs (28x28, as the models see them) and labels.csv with columns file,label.",
        )
        with cols[1].popover("Delete all", icon=":material/delete_sweep:"):
            st.write(f"Delete all {count_of(len(s), 'digit')}? Download them first to keep them.")
            st.button("Delete all", key="hw_clear", type="primary", on_click=_clear)
        _gallery(s)
    _upload()
