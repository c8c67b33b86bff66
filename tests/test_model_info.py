"""What the Models page says about a checkpoint (ui/models/info.py), for checkpoints of this
version and of older ones that recorded less (issue 11 items 10 and 21)."""

from __future__ import annotations

from pathlib import Path

from mnist_core.storage.checkpoints import load_checkpoint
from tests.older import write_older_checkpoint
from ui.models.info import history, outcome, settings_rows

PRETRAINED = Path(__file__).resolve().parents[1] / "checkpoints"


def test_a_stopped_run_says_where_it_stopped_and_what_changed() -> None:
    metrics = {
        "status": "stopped",
        "epochs": 7,
        "epochs_planned": 20,
        "epochs_trained": 7.7907,
        "steps": 3358,
        "total_steps": 8600,
        "lr_changes": [{"step": 1200, "from": 0.05, "to": 0.005}],
        "pauses": [900],
    }
    assert outcome(metrics) == "Stopped at epoch 7.79 of 20 (step 3,358 of 8,600)."
    assert history(metrics) == [
        "Learning rate changed from 0.05 to 0.005 after step 1,200.",
        "Paused 1 time (at step 900).",
    ]
    rows = dict(settings_rows("lenet5", {}, {"epochs": 20, "lr": 0.05}, metrics))
    assert rows["Learning rate (peak)"] == "0.05 at the start; 0.005 at the end"
    assert rows["Epochs"] == "20 planned; stopped at 7.79"


def test_older_checkpoints_say_what_they_know(tmp_path: Path) -> None:
    """Checkpoints from before the run history still load and read well."""
    older = write_older_checkpoint(PRETRAINED / "lenet5.pt", tmp_path / "lenet5.pt")
    ckpt = load_checkpoint(older)
    assert "status" not in ckpt.metrics and "lr_changes" not in ckpt.metrics
    assert outcome(ckpt.metrics) == f"Trained {ckpt.metrics['epochs']} epochs."
    assert history(ckpt.metrics) == []
    rows = settings_rows(ckpt.model, ckpt.model_kwargs, dict(ckpt.config), dict(ckpt.metrics))
    values = dict(rows)
    assert values["Architecture"] == "LeNet-5" and values["Optimizer"] == "AdamW"
    assert values["Training images"].startswith("all (60,000")
    assert "Momentum" not in values  # AdamW does not use it
    assert not [v for _, v in rows if v in ("None", "null", "True", "False", "{}")], rows
    stopped_long_ago = {"status": "stopped", "steps": 120, "epochs": 0}
    assert outcome(stopped_long_ago) == "Stopped after 120 steps (0 whole epochs)."
    assert outcome({}) == "How this model was trained was not recorded."
    assert history({"lr_changes": [{"step": "x"}], "pauses": ["?"]}) == []  # malformed: left out
