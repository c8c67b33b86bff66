"""A run's history, kept in its checkpoint so that any stored or uploaded model can be
compared with any other (the Compare page overlays their curves).

`RunHistory` holds the events `fit` yielded, columnar and in plain types (lists of ints and
floats, dicts of str), so `torch.load(weights_only=True)` reads it back:

    steps:  step, epoch (fractional), loss, lr, images_per_s, train_seconds   (one per point)
    epochs: epoch, step, train_loss, train_accuracy, val_loss, val_accuracy, test_accuracy,
            train_seconds, eval_seconds                                        (one per epoch)
    checks: step, epoch, test_accuracy, train_seconds     (test checks inside epochs)
    events: {"kind": "lr_change", "step", "from", "to"} | {"kind": "pause", "step"} |
            {"kind": "end", "status", "step", "message"}

A long run is downsampled to at most MAX_STEP_POINTS loss points (means over consecutive
windows), so a 200-epoch run stays well under 200 KB. `to_events()` gives back StepMetrics,
EpochMetrics and AccuracyCheck, which every chart and race helper already reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mnist_core.train.events import AccuracyCheck, EpochMetrics, RunEnded, RunStarted, StepMetrics

__all__ = ["HISTORY_VERSION", "MAX_STEP_POINTS", "RunHistory", "downsample"]

HISTORY_VERSION = 1
# 1,000 points draw a smooth curve at any chart width and cost about 50 KB pickled.
MAX_STEP_POINTS = 1000

_STEP_KEYS = ("step", "epoch", "loss", "lr", "images_per_s", "train_seconds")
_EPOCH_KEYS = (
    "epoch",
    "step",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_accuracy",
    "train_seconds",
    "eval_seconds",
)
_CHECK_KEYS = ("step", "epoch", "test_accuracy", "train_seconds")


@dataclass(frozen=True)
class RunHistory:
    """One run's curves and events (see the module docstring for the columns)."""

    steps: Mapping[str, list] = field(default_factory=dict)
    epochs: Mapping[str, list] = field(default_factory=dict)
    checks: Mapping[str, list] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    steps_per_epoch: int = 0  # 0: unknown
    n_train: int = 0  # training images per epoch (images seen = epoch * n_train)
    downsampled_from: int = 0  # the number of loss points before downsampling (0: none)

    @classmethod
    def from_events(
        cls,
        *,
        started: RunStarted | None,
        steps: Sequence[StepMetrics],
        epochs: Sequence[EpochMetrics],
        checks: Sequence[AccuracyCheck] = (),
        ended: RunEnded | None = None,
        lr_changes: Sequence[Mapping[str, Any]] = (),
        pauses: Sequence[int] = (),
        max_points: int = MAX_STEP_POINTS,
    ) -> RunHistory:
        """The history of a run from its events so far. `lr_changes`: {"step", "from",
        "to"}; `pauses`: the step of each pause."""
        kept = downsample(steps, max_points)
        events: list[dict[str, Any]] = [
            {
                "kind": "lr_change",
                "step": int(c["step"]),
                "from": float(c["from"]),
                "to": float(c["to"]),
            }
            for c in lr_changes
        ]
        events += [{"kind": "pause", "step": int(p)} for p in pauses]
        events.sort(key=lambda e: e["step"])
        if ended is not None:
            events.append(
                {
                    "kind": "end",
                    "status": ended.status,
                    "step": ended.step,
                    "message": ended.message,
                }
            )
        return cls(
            steps={k: [_plain(getattr(s, k)) for s in kept] for k in _STEP_KEYS},
            epochs={k: [_plain(getattr(e, k)) for e in epochs] for k in _EPOCH_KEYS},
            checks={k: [_plain(getattr(c, k)) for c in checks] for k in _CHECK_KEYS},
            events=tuple(events),
            steps_per_epoch=started.steps_per_epoch if started else 0,
            n_train=started.n_train if started else 0,
            downsampled_from=len(steps) if len(kept) < len(steps) else 0,
        )

    # ---- reading back -------------------------------------------------------------------
    def step_events(self) -> tuple[StepMetrics, ...]:
        cols = [self.steps.get(k, []) for k in _STEP_KEYS]
        return tuple(
            StepMetrics(
                int(st),
                float(ep),
                math.nan if lo is None else float(lo),
                float(lr),
                float(ips),
                float(sec),
            )
            for st, ep, lo, lr, ips, sec in zip(*cols, strict=False)
        )

    def epoch_events(self) -> tuple[EpochMetrics, ...]:
        cols = [self.epochs.get(k, []) for k in _EPOCH_KEYS]
        return tuple(
            EpochMetrics(
                epoch=int(ep),
                step=int(st),
                train_loss=float(tl),
                train_accuracy=float(ta),
                val_loss=_opt(vl),
                val_accuracy=_opt(va),
                test_accuracy=_opt(te),
                train_seconds=float(ts),
                eval_seconds=float(es),
            )
            for ep, st, tl, ta, vl, va, te, ts, es in zip(*cols, strict=False)
        )

    def check_events(self) -> tuple[AccuracyCheck, ...]:
        cols = [self.checks.get(k, []) for k in _CHECK_KEYS]
        return tuple(
            AccuracyCheck(int(st), float(ep), float(acc), float(sec))
            for st, ep, acc, sec in zip(*cols, strict=False)
        )

    def lr_changes(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.events if e.get("kind") == "lr_change"]

    def pauses(self) -> list[int]:
        return [int(e["step"]) for e in self.events if e.get("kind") == "pause"]

    def end(self) -> Mapping[str, Any] | None:
        return next((e for e in self.events if e.get("kind") == "end"), None)

    @property
    def empty(self) -> bool:
        return not self.steps.get("step") and not self.epochs.get("epoch")

    # ---- (de)serialising ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types only (a checkpoint's "history", or JSON)."""
        return {
            "version": HISTORY_VERSION,
            "steps": {k: list(v) for k, v in self.steps.items()},
            "epochs": {k: list(v) for k, v in self.epochs.items()},
            "checks": {k: list(v) for k, v in self.checks.items()},
            "events": [dict(e) for e in self.events],
            "steps_per_epoch": self.steps_per_epoch,
            "n_train": self.n_train,
            "downsampled_from": self.downsampled_from,
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunHistory:
        """Read `to_dict()`'s output back. Raises ValueError when it is malformed: columns
        that are not lists of numbers of one length, or events that are not dicts."""
        if not isinstance(data, Mapping):
            raise ValueError("the history is not a mapping")
        version = data.get("version")
        if not isinstance(version, int) or version < 1 or version > HISTORY_VERSION:
            raise ValueError(f"unknown history version {version!r}")
        events = data.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events):
            raise ValueError("its events are malformed")
        return cls(
            steps=_columns(data.get("steps"), _STEP_KEYS, "steps", optional=frozenset({"loss"})),
            epochs=_columns(data.get("epochs"), _EPOCH_KEYS, "epochs", optional=_OPTIONAL),
            checks=_columns(data.get("checks"), _CHECK_KEYS, "checks"),
            events=tuple(dict(e) for e in events),
            steps_per_epoch=_int(data.get("steps_per_epoch")),
            n_train=_int(data.get("n_train")),
            downsampled_from=_int(data.get("downsampled_from")),
        )


_OPTIONAL = frozenset({"val_loss", "val_accuracy", "test_accuracy"})


def downsample(steps: Sequence[StepMetrics], max_points: int) -> list[StepMetrics]:
    """At most `max_points` StepMetrics: consecutive windows merged into one point at the
    window's last step (mean loss and images/s, the last lr and time), so the curve keeps its
    shape and its end. Shorter sequences come back as they are."""
    n = len(steps)
    if max_points < 1 or n <= max_points:
        return list(steps)
    out: list[StepMetrics] = []
    for i in range(max_points):
        lo, hi = (i * n) // max_points, ((i + 1) * n) // max_points
        window = steps[lo:hi]
        last = window[-1]
        out.append(
            StepMetrics(
                step=last.step,
                epoch=last.epoch,
                loss=sum(s.loss for s in window) / len(window),
                lr=last.lr,
                images_per_s=sum(s.images_per_s for s in window) / len(window),
                train_seconds=last.train_seconds,
            )
        )
    return out


def _plain(value: Any) -> Any:
    """Python ints and floats (a numpy or torch scalar would not load with weights_only);
    None for a NaN or infinite loss (a diverged run), which JSON could not hold."""
    if value is None or isinstance(value, bool | int):
        return value
    value = float(value)
    return value if math.isfinite(value) else None


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _columns(
    data: Any, keys: Sequence[str], what: str, optional: frozenset[str] = frozenset()
) -> dict[str, list]:
    if data is None:
        return {k: [] for k in keys}
    if not isinstance(data, Mapping):
        raise ValueError(f"its {what} are malformed")
    cols: dict[str, list] = {}
    for k in keys:
        col = data.get(k, [])
        if not isinstance(col, list) or not all(
            (v is None and k in optional)
            or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
            for v in col
        ):
            raise ValueError(f"its {what} column {k!r} is malformed")
        cols[k] = col
    if len({len(c) for c in cols.values()}) > 1:
        raise ValueError(f"its {what} columns differ in length")
    return cols
