"""Training timelines on disk: `<stem>.timeline.pt` beside the checkpoint `<stem>.pt`.

A timeline (`mnist_core.train.timeline.Timeline`) is kept in its own file so that listing and
loading checkpoints (every page, every rerun) never reads its 16 snapshots, and a checkpoint
downloaded or uploaded stays one small file. Contents (plain types and tensors, read with
`torch.load(weights_only=True)` as checkpoints are):

    format ("mnist-playground-timeline"), format_version, model, model_kwargs, steps (list of
    int), states (list of state_dicts), total_steps, note

A timeline belongs to its checkpoint when it names the same architecture and options and its
last snapshot is exactly the checkpoint's weights; a missing, damaged or foreign file means "no
timeline", with the reason (`TimelineLoad.reason`), never a failure of the model itself.
"""

from __future__ import annotations

import io
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnist_core.errors import MnistError, TimelineError
from mnist_core.storage.checkpoints import Checkpoint, uninitialised_model, write_atomically
from mnist_core.train.timeline import Timeline

__all__ = [
    "SUFFIX",
    "TimelineLoad",
    "check_belongs",
    "is_timeline_file",
    "load_timeline",
    "read_limit",
    "save_timeline",
    "timeline_bytes",
    "timeline_from_bytes",
    "timeline_path",
]

FORMAT = "mnist-playground-timeline"
FORMAT_VERSION = 1
SUFFIX = ".timeline.pt"


def timeline_path(checkpoint_path: str | Path) -> Path:
    """Where the timeline of the checkpoint at `checkpoint_path` lives: `x.pt` ->
    `x.timeline.pt`."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + SUFFIX)


def is_timeline_file(path: Path) -> bool:
    """Whether `path` is a timeline (not a checkpoint, though it ends in .pt too)."""
    return path.name.endswith(SUFFIX)


def read_limit(cap_bytes: int) -> int:
    """The largest timeline file read under a cap of `cap_bytes`: the snapshots' tensors plus
    the file's own overhead (names and pickle framing, for 16 snapshots: MLP 13.98 MB for
    13.96 MB of tensors, ResNet 7.70 for 7.50, SpeedNet 2.00 for 1.91, so 5% and 256 kB)."""
    return int(cap_bytes * 1.05) + 256 * 1024


@dataclass(frozen=True)
class TimelineLoad:
    """What a model's timeline file gave: the timeline, or None and why (for people)."""

    timeline: Timeline | None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.timeline is None and not self.reason:
            raise ValueError("a TimelineLoad without a timeline says why")


def timeline_bytes(timeline: Timeline) -> bytes:
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": timeline.model,
        "model_kwargs": dict(timeline.model_kwargs),
        "steps": list(timeline.steps),
        "states": [dict(s) for s in timeline.states],
        "total_steps": timeline.total_steps,
        "note": timeline.note,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def timeline_from_bytes(data: bytes, label: str = "the timeline") -> Timeline:
    """Read and validate a timeline; TimelineError (saying what is wrong) otherwise."""
    if not data:
        raise TimelineError(f"{label} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise TimelineError(
            f"{label} was refused: it holds Python objects that could run code when loaded."
        ) from None
    except Exception:  # any parse failure of arbitrary bytes
        raise TimelineError(f"{label} is truncated or damaged.") from None
    return _validate(payload, label)


def _validate(payload: Any, label: str) -> Timeline:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise TimelineError(f"{label} is not an MNIST Playground training timeline.")
    version = payload.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise TimelineError(
            f"{label} uses timeline format {version!r}; this app reads {FORMAT_VERSION}."
        )
    steps, states = payload.get("steps"), payload.get("states")
    kwargs, total = payload.get("model_kwargs"), payload.get("total_steps")
    if not (
        isinstance(steps, list)
        and isinstance(states, list)
        and isinstance(kwargs, dict)
        and isinstance(total, int)
        and all(isinstance(s, dict) for s in states)
    ):
        raise TimelineError(f"{label} is damaged: its steps or snapshots are malformed.")
    for state in states:
        if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
            raise TimelineError(f"{label} is damaged: a snapshot holds something not a tensor.")
        if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
            raise TimelineError(f"{label} is damaged: a snapshot holds NaN or infinite weights.")
    timeline = Timeline(
        model=str(payload.get("model")),
        model_kwargs=kwargs,
        steps=tuple(steps),
        states=tuple(states),
        total_steps=total,
        note=str(payload.get("note", "")),
    )  # TimelineError for bad steps or mismatched snapshots
    try:  # the architecture exists and the (common) names and shapes fit it
        model = uninitialised_model(timeline.model, **kwargs)
        shapes = {k: v.shape for k, v in model.state_dict().items()}
    except MnistError as e:
        raise TimelineError(f"{label} names a model this app cannot build: {e}") from None
    for state in states:
        if {k: v.shape for k, v in state.items()} != shapes:
            raise TimelineError(f"{label} does not fit the architecture it names.")
    return timeline


def check_belongs(timeline: Timeline, ckpt: Checkpoint, label: str = "the timeline") -> None:
    """TimelineError unless `timeline` is `ckpt`'s: the same architecture and options, and its
    last snapshot exactly the checkpoint's weights (so its last step predicts exactly as the
    saved model does)."""
    if timeline.model != ckpt.model or dict(timeline.model_kwargs) != dict(ckpt.model_kwargs):
        raise TimelineError(f"{label} is of another model ({timeline.model}).")
    last = timeline.states[-1]
    same = set(last) == set(ckpt.state_dict) and all(
        torch.equal(last[k], ckpt.state_dict[k].to(last[k].dtype)) for k in last
    )
    if not same:
        raise TimelineError(
            f"{label} does not end at this model's weights: it belongs to another training run."
        )


def save_timeline(timeline: Timeline, path: str | Path) -> Path:
    """Write `timeline` atomically to `path`; TimelineError when the write fails."""
    path = Path(path)
    try:
        write_atomically(path, timeline_bytes(timeline))
    except OSError as e:
        raise TimelineError(f"Could not save the training timeline: {e.strerror or e}.") from None
    return path


def load_timeline(path: str | Path, ckpt: Checkpoint, *, max_bytes: int) -> TimelineLoad:
    """The timeline at `path` if it is `ckpt`'s; else none, with the reason. Never raises for
    a missing, oversized, damaged or foreign file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return TimelineLoad(
            None,
            "This model has no training timeline: only runs trained in the app keep one "
            "(uploaded models and older runs do not).",
        )
    if size > max_bytes:
        return TimelineLoad(
            None,
            f"Its training timeline is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB "
            "this server reads (MNIST_TIMELINE_MAX_MB).",
        )
    label = "Its training timeline"
    try:
        timeline = timeline_from_bytes(path.read_bytes(), label)
        check_belongs(timeline, ckpt, label)
    except OSError as e:
        return TimelineLoad(None, f"{label} could not be read: {e.strerror or e}.")
    except TimelineError as e:
        return TimelineLoad(None, str(e))
    return TimelineLoad(timeline, timeline.note)
