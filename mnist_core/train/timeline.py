"""A run's training timeline: its weights at 16 log-spaced steps, to replay how it learnt.

Learning is fast: the default LeNet-5 is sure of a drawn digit by step 250, before anyone
watching has looked. A timeline keeps the weights at step 0 (before the first update: chance,
about 10% for every digit), at steps spaced evenly on a log scale (for 938 steps: 1, 2, 3,
4, 7, 12, 19...: most change happens early) and at the end (exactly the saved weights), so
Draw, Mistakes and Inside can show the model as it was at each of them.

`timeline_steps` is the schedule (a pure function); `TimelineRecorder` is what `fit` calls
to capture the snapshots (CPU float32 copies); `Timeline` is the result, frozen. Files are
`mnist_core.storage.timelines`' business.

Size: a snapshot is the model's state_dict, so 16 of them are 16x the checkpoint's weights:
MLP 0.87 MB each (14.0 MB), LeNet-5 0.25 MB (3.9 MB), ResNet 0.47 MB (7.5 MB). The cap
(`settings().timeline_max_mb`) bounds both the memory a training run holds and the file; a
model whose snapshots would not fit keeps fewer steps (`points_within`), never more than fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mnist_core.errors import TimelineError
from mnist_core.storage.checkpoints import uninitialised_model

__all__ = [
    "MIN_POINTS",
    "POINTS",
    "Timeline",
    "TimelineRecorder",
    "points_within",
    "state_bytes",
    "timeline_steps",
]

POINTS = 16  # snapshots a timeline keeps when the cap allows: step 0, 14 log-spaced, the end
MIN_POINTS = 2  # step 0 and the end: fewer is no timeline


def timeline_steps(total_steps: int, points: int = POINTS) -> tuple[int, ...]:
    """The steps whose weights a run of `total_steps` optimiser steps keeps: `points` of them
    (every step of a shorter run), from 0 to `total_steps`, spaced evenly on a log scale.

    Rounding would make the first log-spaced steps coincide (1, 1.2, 1.5...), so the first
    `k` steps are taken one by one and the rest spaced on a log scale from `k` to the end,
    with the smallest `k` that gives `points` different steps. 938 steps (one MLP epoch at
    batch 64): 0 1 2 3 4 7 12 19 31 50 81 133 216 353 575 938; 24 steps: 0-9, 11, 13, 15,
    17, 20, 24.
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 0:
        raise ValueError(f"total_steps must be a whole number >= 0, got {total_steps!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < MIN_POINTS:
        raise ValueError(f"points must be a whole number >= {MIN_POINTS}, got {points!r}")
    if total_steps < points:
        return tuple(range(total_steps + 1))
    spaced = points - 1  # steps after 0, the end included
    for k in range(1, spaced):  # steps 1..k one by one, then `spaced - k` log-spaced ones
        rest = spaced - k
        ratio = (total_steps / k) ** (1 / rest)
        steps = {0, *range(1, k + 1), *(round(k * ratio**j) for j in range(1, rest + 1))}
        steps.add(total_steps)  # exact, whatever the floating point made of k * ratio**rest
        if len(steps) == points:
            return tuple(sorted(steps))
    return (*range(spaced), total_steps)  # never reached: k = spaced - 1 fits


def state_bytes(state: Mapping[str, torch.Tensor]) -> int:
    """Bytes of the tensors of one snapshot (what it holds in memory; its file is ~1% more)."""
    return sum(t.numel() * t.element_size() for t in state.values())


def points_within(snapshot_bytes: int, cap_bytes: int, points: int = POINTS) -> int:
    """How many snapshots of `snapshot_bytes` each fit in `cap_bytes`, at most `points`; 0
    when not even `MIN_POINTS` fit (then there is no timeline)."""
    fit = cap_bytes // max(1, snapshot_bytes)
    return min(points, fit) if fit >= MIN_POINTS else 0


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of `model`'s state on the CPU: floating tensors as contiguous float32 (a
    bfloat16 or channels-last model gives the same snapshot as a plain one), others as they
    are (BatchNorm's step counter)."""
    out = {}
    for key, t in model.state_dict().items():
        t = t.detach()
        t = t.to("cpu", torch.float32) if t.is_floating_point() else t.to("cpu")
        out[key] = t.contiguous().clone()
    return out


@dataclass(frozen=True)
class Timeline:
    """A run's weights at `steps` (increasing, starting at 0); `states[i]` is the state_dict
    after `steps[i]` optimiser steps, and the last one is the run's final weights.

    model, model_kwargs: the architecture (as a checkpoint names it); total_steps: the steps
    the run was planned for (a stopped run ends before it); note: for people, why the
    timeline keeps fewer steps than usual, if it does ("" otherwise).
    """

    model: str
    model_kwargs: Mapping[str, Any]
    steps: tuple[int, ...]
    states: tuple[Mapping[str, torch.Tensor], ...] = field(repr=False)
    total_steps: int
    note: str = ""

    def __post_init__(self) -> None:
        steps = self.steps
        if len(steps) < MIN_POINTS or len(steps) != len(self.states):
            raise TimelineError(
                f"A timeline needs at least {MIN_POINTS} steps, each with its weights; this one "
                f"has {len(steps)} steps and {len(self.states)} snapshots."
            )
        if steps[0] != 0 or any(b <= a for a, b in itertools.pairwise(steps)):
            raise TimelineError(
                f"A timeline's steps must start at 0 and increase; got {list(steps)[:20]}."
            )
        if any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
            raise TimelineError("A timeline's steps must be whole numbers.")
        keys = set(self.states[0])
        if any(set(s) != keys for s in self.states):
            raise TimelineError("A timeline's snapshots do not all hold the same weights.")

    @property
    def final_step(self) -> int:
        return self.steps[-1]

    @property
    def nbytes(self) -> int:
        """Bytes of all the snapshots' tensors (the memory it holds)."""
        return sum(state_bytes(s) for s in self.states)

    def index_of(self, step: int) -> int:
        """The position of `step` in `steps` (TimelineError when it is not one of them)."""
        try:
            return self.steps.index(step)
        except ValueError:
            raise TimelineError(
                f"This timeline has no step {step}: it keeps steps "
                f"{', '.join(map(str, self.steps))}."
            ) from None

    def state_at(self, step: int) -> Mapping[str, torch.Tensor]:
        """The weights after `step` optimiser steps (one of `steps`)."""
        return self.states[self.index_of(step)]

    def model_at(self, step: int) -> nn.Module:
        """The architecture with the weights of `step`, on the CPU, in eval mode."""
        model = uninitialised_model(self.model, **dict(self.model_kwargs))
        model.load_state_dict(self.state_at(step), strict=True)
        return model.eval()


class TimelineRecorder:
    """Captures a run's snapshots as `fit` trains: `begin` (step 0, before the first update),
    `after_step` after each update, `end` with the final weights. Mutable; one writer (the
    training thread); read `timeline()` once the run has ended.

    Args:
        cap_bytes: the most bytes the snapshots may hold (`settings().timeline_max_bytes`).
        points: snapshots kept when the cap allows.
    """

    def __init__(self, cap_bytes: int, points: int = POINTS) -> None:
        if cap_bytes < 0 or points < MIN_POINTS:
            raise ValueError(f"cap_bytes >= 0 and points >= {MIN_POINTS} needed")
        self.cap_bytes, self.points = int(cap_bytes), int(points)
        self.model_name = ""
        self.model_kwargs: Mapping[str, Any] = {}
        self.total_steps = 0
        self.planned: frozenset[int] = frozenset()
        self.steps: list[int] = []
        self.states: list[dict[str, torch.Tensor]] = []
        self.note = ""  # why there are fewer snapshots than `points`, or none, for people
        self._budget = 0  # snapshots the cap allows for this model
        self._adopted: Timeline | None = None

    def begin(
        self, model: nn.Module, total_steps: int, name: str, kwargs: Mapping[str, Any]
    ) -> None:
        """Plan the steps for a run of `total_steps` of `model` (architecture `name`, options
        `kwargs`) and capture step 0: the weights before the first update."""
        self.model_name, self.model_kwargs, self.total_steps = name, dict(kwargs), total_steps
        first = snapshot(model)
        each = state_bytes(first)
        self._budget = points_within(each, self.cap_bytes, self.points)
        if self._budget == 0:
            self.note = (
                f"No training timeline: one snapshot of this model is {each / 1e6:.1f} MB, "
                f"and {MIN_POINTS} do not fit the {self.cap_bytes / 1e6:g} MB cap "
                "(MNIST_TIMELINE_MAX_MB)."
            )
            return
        if self._budget < self.points:
            self.note = (
                f"The timeline keeps {self._budget} steps, not {self.points}: a snapshot of "
                f"this model is {each / 1e6:.1f} MB and the cap is {self.cap_bytes / 1e6:g} MB "
                "(MNIST_TIMELINE_MAX_MB)."
            )
        self.planned = frozenset(timeline_steps(total_steps, self._budget))
        self.steps, self.states = [0], [first]

    def after_step(self, step: int, model: nn.Module) -> None:
        """Capture the weights after update number `step` if the plan keeps it (cheap to call
        after every step: a set lookup)."""
        if step in self.planned and self.steps and step > self.steps[-1]:
            self.steps.append(step)
            self.states.append(snapshot(model))

    def end(self, step: int, model: nn.Module) -> None:
        """The run ended at `step` with `model`'s final weights (a stopped run before its
        planned end): they become the last snapshot. Within the budget, the planned step
        nearest before it gives way."""
        if not self.steps:
            return
        if self.steps[-1] == step:
            self.states[-1] = snapshot(model)  # the same weights; a copy taken now is exact
            return
        if len(self.steps) >= self._budget and len(self.steps) > 1:
            self.steps.pop()
            self.states.pop()
        self.steps.append(step)
        self.states.append(snapshot(model))

    def discard(self, note: str) -> None:
        """Keep no timeline, for the reason `note` (a diverged run: its last snapshots may hold
        NaN weights, which no timeline may)."""
        self.steps, self.states, self.note = [], [], note

    def adopt(self, timeline: Timeline | None, note: str = "") -> None:
        """Take the timeline recorded elsewhere (a child process or a Ray actor)."""
        self._adopted, self.note = timeline, note

    def timeline(self) -> Timeline | None:
        """The snapshots as a Timeline; None when there are none (the note says why)."""
        if self._adopted is not None:
            return self._adopted
        if len(self.steps) < MIN_POINTS:
            return None
        return Timeline(
            model=self.model_name,
            model_kwargs=dict(self.model_kwargs),
            steps=tuple(self.steps),
            states=tuple(self.states),
            total_steps=self.total_steps,
            note=self.note,
        )
