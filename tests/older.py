"""Checkpoints as an earlier version of the app wrote them, made from a current one.

Before the run history (curves, status, learning-rate changes and pauses) a checkpoint held
only these metrics and no `history`; the shipped checkpoints were of that form until they were
retrained. Tests of how older files read build them here rather than keep binaries."""

from __future__ import annotations

from pathlib import Path

import torch

OLD_METRICS = (
    "epochs",
    "final_train_loss",
    "images_per_s",
    "test_accuracy",
    "test_accuracy_at_training_end",
    "train_seconds",
    "val_accuracy",
)
# TrainConfig fields added since (the drawn-digit training, evaluation and layout options).
NEW_CONFIG = ("aug_stroke", "aug_elastic", "synthetic", "eval_every", "channels_last")


def write_older_checkpoint(src: Path, dst: Path, name: str | None = None) -> Path:
    """`src` rewritten at `dst` as an older version wrote it: no curves, fewer metrics."""
    raw = torch.load(src, map_location="cpu", weights_only=True)
    raw.pop("history", None)
    raw["metrics"] = {k: v for k, v in raw["metrics"].items() if k in OLD_METRICS}
    raw["config"] = {k: v for k, v in raw["config"].items() if k not in NEW_CONFIG}
    if name is not None:
        raw["name"] = name
    torch.save(raw, dst)
    return dst
