"""Evaluate a model on a split: accuracy, per-class accuracy, confusion, mistakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class EvalResult:
    """Everything the Mistakes page and `evaluate --json` show. Arrays are numpy, on the CPU."""

    accuracy: float  # in [0, 1]
    loss: float  # mean cross-entropy
    n: int
    per_class_accuracy: np.ndarray  # (10,) float; recall of each true class
    confusion: np.ndarray  # (10,10) int64; [true, predicted]
    predicted: np.ndarray  # (N,) int64
    confidence: np.ndarray  # (N,) float32: probability of the predicted class
    probabilities: np.ndarray  # (N,10) float32
    labels: np.ndarray  # (N,) int64

    @property
    def misclassified(self) -> np.ndarray:
        """Indices of wrong predictions, most confident first."""
        wrong = np.flatnonzero(self.predicted != self.labels)
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")]

    def to_json(self) -> dict:
        """The summary as plain JSON types (accuracy as a fraction)."""
        return {
            "test_accuracy": self.accuracy,
            "loss": self.loss,
            "n": self.n,
            "per_class_accuracy": [round(float(a), 6) for a in self.per_class_accuracy],
            "confusion_matrix": self.confusion.tolist(),
            "misclassified": len(self.misclassified),
        }


def model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with `model` in eval mode, then put every submodule's train/eval flag
    back as it was, so a forward pass on a model being trained (a prediction, an end-of-epoch
    evaluation) does not disturb it. `model.train(flag)` would set all submodules alike."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, was_training in flags:
            module.training = was_training


class EvaluationInterrupted(Exception):
    """Raised by `predict_logits` when its `should_stop` callback answers True."""


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1000,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """images: (N,28,28) uint8 -> (N,10) float32 logits, on the model's device, in eval mode.
    Restores the model's train/eval mode afterwards. `should_stop` is checked between batches
    so a person's stop is honoured within one batch even during an evaluation."""
    dev = model_device(model)
    with eval_mode(model):
        out = []
        for i in range(0, len(images), batch_size):
            if should_stop is not None and should_stop():
                raise EvaluationInterrupted
            x = images[i : i + batch_size].to(dev, non_blocking=True)
            x = x.unsqueeze(1).float().div_(255)  # (B,1,28,28) in [0,1]
            if dev.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out.append(model(x).float())
            else:
                out.append(model(x))
        return torch.cat(out) if out else torch.empty(0, 10, device=dev)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 1000,
    should_stop: Callable[[], bool] | None = None,
) -> EvalResult:
    """Evaluate on (N,28,28) uint8 images with (N,) int64 labels."""
    logits = predict_logits(model, images, batch_size, should_stop)
    labels_d = labels.to(logits.device)
    loss = float(F.cross_entropy(logits, labels_d)) if len(labels) else float("nan")
    probs = torch.softmax(logits, 1).float().cpu().numpy()
    y = labels.cpu().numpy().astype(np.int64)
    pred = probs.argmax(1).astype(np.int64)
    conf = probs[np.arange(len(pred)), pred].astype(np.float32)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    totals = confusion.sum(1)
    per_class = np.divide(
        np.diag(confusion), totals, out=np.zeros(10, dtype=np.float64), where=totals > 0
    )
    return EvalResult(
        accuracy=float((pred == y).mean()) if len(y) else float("nan"),
        loss=loss,
        n=len(y),
        per_class_accuracy=per_class,
        confusion=confusion,
        predicted=pred,
        confidence=conf,
        probabilities=probs.astype(np.float32),
        labels=y,
    )
