"""The Start here page's fixed parts: what the playground is, the three steps, the glossary."""

from __future__ import annotations

import streamlit as st

from ui.start.glossary import TERMS

# The three steps of the main path: page, label, icon, what to do there.
STEPS = (
    (
        "pages/train.py",
        "1 · Train a model",
        ":material/model_training:",
        "Pick an architecture, press **Quick look** in the sidebar, then **Start training**: "
        "a few seconds later you have a model of your own.",
    ),
    (
        "pages/mistakes.py",
        "2 · See its mistakes",
        ":material/grid_on:",
        "Every test digit it gets wrong, and which digits it confuses with which.",
    ),
    (
        "pages/draw.py",
        "3 · Draw for it",
        ":material/draw:",
        "Write a digit with the mouse or a finger and see what every model reads.",
    ),
)


def intro() -> None:
    """The title, three sentences on what this is, and the three-step path."""
    st.title("Start here", anchor=False)
    st.markdown(
        "MNIST Playground trains small neural networks to read handwritten digits, on the "
        "70,000 digits of the MNIST dataset, while you watch. You choose the network and "
        "its settings, watch it learn, then look at what it gets wrong and what goes on inside "
        "it. Nothing needs installing, and the [glossary](#glossary) at the bottom of this page "
        "explains the words you will meet: loss, epoch, validation and the others."
    )
    for column, (page, label, icon, words) in zip(st.columns(len(STEPS)), STEPS, strict=True):
        with column.container(border=True):
            st.page_link(page, label=f"**{label}**", icon=icon)
            st.caption(words)


def glossary() -> None:
    """Every term under a small heading that carries its anchor, three to a row."""
    st.header("Glossary", anchor="glossary")
    per_row = 3
    for start in range(0, len(TERMS), per_row):
        row = TERMS[start : start + per_row]
        for column, term in zip(st.columns(per_row), row, strict=False):
            with column:
                st.subheader(term.title, anchor=term.key)
                st.write(term.words)
