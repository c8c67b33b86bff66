"""Evaluate a model on a split: accuracy, per-class accuracy, confusion, mistakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.models.common import NUM_CLASSES
from mnist_core.models.inference import logits, model_device


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


class EvaluationInterrupted(Exception):
    """Raised by `predict_logits` when its `should_stop` callback answers True."""


def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1000,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """images: (N,28,28) uint8 -> (N,10) logits, on the model's device, in eval mode, in
    bfloat16 autocast on a GPU (float32 logits). Restores the model's train/eval mode
    afterwards. `should_stop` is checked between batches so a person's stop is honoured within
    one batch even during an evaluation."""
    if len(images) == 0:
        return torch.empty(0, NUM_CLASSES, device=model_device(model))

    def check_stop() -> None:
        if should_stop is not None and should_stop():
            raise EvaluationInterrupted

    return logits(
        model, images, batch_size=batch_size, mixed_precision=True, before_batch=check_stop
    )


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
    return result_from_probabilities(probs, labels.cpu().numpy(), loss)


def result_from_probabilities(
    probabilities: np.ndarray, labels: np.ndarray, loss: float
) -> EvalResult:
    """The `EvalResult` of (N,10) class probabilities against (N,) labels, with the mean
    cross-entropy `loss` measured alongside: what `evaluate` returns, and what a stored
    evaluation (`mnist_core.storage.evaluations`) is read back into."""
    probs = np.asarray(probabilities, dtype=np.float32)
    y = np.asarray(labels).astype(np.int64)
    pred = probs.argmax(1).astype(np.int64)
    conf = probs[np.arange(len(pred)), pred].astype(np.float32)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    totals = confusion.sum(1)
    per_class = np.divide(
        np.diag(confusion), totals, out=np.zeros(NUM_CLASSES, dtype=np.float64), where=totals > 0
    )
    return EvalResult(
        accuracy=float((pred == y).mean()) if len(y) else float("nan"),
        loss=float(loss),
        n=len(y),
        per_class_accuracy=per_class,
        confusion=confusion,
        predicted=pred,
        confidence=conf,
        probabilities=probs,
        labels=y,
    )
