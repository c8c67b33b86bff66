"""Counts in words (issue 27, item 13: "1 epochs" on Models, in the fine-tune result and in the
command line's sweep JSON)."""

from __future__ import annotations

from mnist_core.words import count_of
from ui.models.info import outcome


def test_one_is_singular_and_others_plural() -> None:
    assert count_of(1, "epoch") == "1 epoch"
    assert count_of(0, "epoch") == "0 epochs"
    assert count_of(1200, "digit") == "1,200 digits"
    assert count_of(2, "child", "children") == "2 children"


def test_the_models_page_says_one_epoch() -> None:
    assert outcome({"status": "finished", "epochs_planned": 1}) == "Finished: trained its 1 epoch."
    assert outcome({"status": "finished", "epochs_planned": 3}) == "Finished: trained all 3 epochs."
    assert outcome({"epochs": 1}) == "Trained 1 epoch."
    assert outcome({"status": "stopped", "steps": 1}) == "Stopped after 1 step (0 whole epochs)."
