"""Self-describing checkpoints: one `.pt` file holds everything needed to rebuild a model.

Contents (plain types and tensors only, so `torch.load(weights_only=True)` can read them and
a malicious pickle is refused instead of executed):

    format_version, model (name), model_kwargs, config (TrainConfig.to_dict()), metrics,
    state_dict, created (ISO 8601 UTC), package_version, name (display name),
    history (`mnist_core.storage.history.RunHistory.to_dict()`: the run's curves and events; absent
    from checkpoints written before it existed, which load with an empty history)
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnist_core import __version__
from mnist_core.errors import CheckpointError, MnistError
from mnist_core.models import create_model, get_spec, list_models
from mnist_core.storage.history import RunHistory
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics, RunEnded, RunStarted

FORMAT_VERSION = 1
# Our largest architecture is well under 5 MB; anything far larger is not one of ours.
MAX_CHECKPOINT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint. `build_model()` returns the model in eval mode."""

    model: str
    model_kwargs: Mapping[str, Any]
    state_dict: Mapping[str, torch.Tensor]
    config: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    package_version: str = ""
    name: str = ""
    format_version: int = FORMAT_VERSION
    history: Mapping[str, Any] = field(default_factory=dict)  # RunHistory.to_dict(), or {}

    @property
    def test_accuracy(self) -> float | None:
        acc = self.metrics.get("test_accuracy")
        return float(acc) if isinstance(acc, int | float) else None

    @property
    def n_params(self) -> int:
        return sum(int(v.numel()) for k, v in self.state_dict.items() if _is_param_key(k))

    @property
    def run_history(self) -> RunHistory | None:
        """The run's curves and events, or None for a checkpoint saved without them."""
        return RunHistory.from_dict(self.history) if self.history else None

    def build_model(self, device: torch.device | str = "cpu") -> nn.Module:
        """The architecture with these weights, on `device`, in eval mode."""
        return _build(self.model, self.model_kwargs, self.state_dict).to(device).eval()

    def to_payload(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model": self.model,
            "model_kwargs": dict(self.model_kwargs),
            "config": dict(self.config),
            "metrics": dict(self.metrics),
            "state_dict": dict(self.state_dict),
            "created": self.created,
            "package_version": self.package_version,
            "name": self.name,
            "history": dict(self.history),
        }


def _is_param_key(key: str) -> bool:
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def with_cpu_test_accuracy(
    ckpt: Checkpoint, test_images: torch.Tensor, test_labels: torch.Tensor
) -> Checkpoint:
    """`ckpt` with metrics["test_accuracy"] measured in float32 on the CPU.

    On a GPU `fit` measures in bfloat16, and a few of 10,000 digits can come out differently
    from the float32 CPU evaluation that every page showing a saved model uses (LeNet-5 on an
    H100: 99.41% against 99.39%). A saved checkpoint reports the number anyone loading it gets;
    the training device's figure is kept as "test_accuracy_at_training_end".
    """
    from mnist_core.train.evaluation import evaluate  # evaluation never imports checkpoints

    accuracy = evaluate(ckpt.build_model("cpu"), test_images.cpu(), test_labels.cpu()).accuracy
    metrics = dict(ckpt.metrics)
    if metrics.get("test_accuracy") is not None:
        metrics["test_accuracy_at_training_end"] = metrics["test_accuracy"]
    metrics["test_accuracy"] = accuracy
    return dataclasses.replace(ckpt, metrics=metrics)


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of `model`'s weights and buffers on the CPU, detached: later optimiser steps on
    the model (on any device) do not change it."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def checkpoint_metrics(
    config: TrainConfig,
    *,
    started: RunStarted | None,
    epochs: Sequence[EpochMetrics],
    ended: RunEnded | None,
    train_seconds: float,
    step: int,
    status: str,
    test_accuracy: float | None,
    name: str = "",
    lr_changes: Sequence[Mapping[str, Any]] = (),
    pauses: Sequence[int] = (),
) -> dict[str, Any]:
    """The metrics a checkpoint stores (plain types only), from a run's events so far.

    `ended` is None for a run stopped mid-way whose weights are captured now; then the latest
    epoch gives the validation figures. images_per_s is the mean over the whole run.

    Besides the figures, the run's history: "status" (finished, stopped...), "epochs_trained"
    (fractional: a run stopped mid-epoch trained 7.79 of its "epochs_planned"), "total_steps",
    `lr_changes` made while it ran ({"step", "from", "to"}: the config keeps the learning rate
    it started with) and the steps at which it was paused (`pauses`). Checkpoints written
    before these keys existed lack them; readers must not expect them.
    """
    last = epochs[-1] if epochs else None
    images = 0
    if started is not None:  # the last batch of an epoch may be smaller than batch_size
        full, rest = divmod(step, started.steps_per_epoch)
        images = full * started.n_train + rest * config.batch_size
    return {
        "test_accuracy": test_accuracy,
        "val_accuracy": ended.val_accuracy if ended else (last.val_accuracy if last else None),
        "train_seconds": train_seconds,
        "eval_seconds": ended.eval_seconds if ended else (last.eval_seconds if last else 0.0),
        "epochs": ended.epochs_done if ended else len(epochs),
        "steps": step,
        "images_per_s": images / train_seconds if train_seconds > 0 else None,
        "final_train_loss": last.train_loss if last else None,
        "status": ended.status if ended else status,
        "job_name": name,
        "epochs_planned": config.epochs,
        "epochs_trained": round(step / started.steps_per_epoch, 4) if started else 0.0,
        "total_steps": started.total_steps if started else None,
        "lr_changes": [
            {"step": int(c["step"]), "from": float(c["from"]), "to": float(c["to"])}
            for c in lr_changes
        ],
        "pauses": [int(p) for p in pauses],
    }


def make_checkpoint(
    model: nn.Module,
    config: TrainConfig | None,
    metrics: Mapping[str, Any] | None = None,
    *,
    name: str = "",
    model_name: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    history: RunHistory | None = None,
) -> Checkpoint:
    """Capture `model` (weights copied to the CPU) with its config, metrics and history."""
    if config is None and model_name is None:
        raise ValueError("give a config or a model_name")
    state = cpu_state_dict(model)
    return Checkpoint(
        model=config.model if config else str(model_name),
        model_kwargs=dict(config.model_kwargs if config else (model_kwargs or {})),
        state_dict=state,
        config=config.to_dict() if config else {},
        metrics=dict(metrics or {}),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        package_version=__version__,
        name=name,
        history=history.to_dict() if history is not None else {},
    )


def checkpoint_bytes(ckpt: Checkpoint) -> bytes:
    """The checkpoint serialised as `.pt` bytes (for downloads, from memory)."""
    buf = io.BytesIO()
    torch.save(ckpt.to_payload(), buf)
    return buf.getvalue()


def save_checkpoint(ckpt: Checkpoint, path: str | Path, *, label: str | None = None) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, then os.replace, so a
    crash mid-write leaves the previous file intact. Raises CheckpointError on I/O failure,
    naming `label` (e.g. "the model", where the path is no business of the reader) or the
    path."""
    path = Path(path)
    try:
        write_atomically(path, checkpoint_bytes(ckpt))
    except OSError as e:
        where = label or f"the checkpoint to {path}"
        raise CheckpointError(
            f"Could not save {where}: {e.strerror or e}. "
            "The trained model is still available for download."
        ) from None
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, fsync, then
    os.replace: a crash mid-write leaves the previous file (or none) intact. Raises OSError."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def load_checkpoint(
    source: str | Path | bytes,
    *,
    max_bytes: int = MAX_CHECKPOINT_BYTES,
    label: str | None = None,
) -> Checkpoint:
    """Read and validate a checkpoint from a path or bytes. Messages call it `label` (default:
    "the uploaded file" for bytes, else the path).

    Refuses, with a CheckpointError a person can act on: files that are not checkpoints, files
    that would run code when unpickled, truncated files, newer format versions, unknown
    architectures, and weights whose names or shapes do not fit the architecture.
    """
    named = label
    label = label or ("the uploaded file" if isinstance(source, bytes) else str(source))
    if isinstance(source, bytes):
        data = source
    else:
        p = Path(source)
        if not p.is_file():
            raise CheckpointError(f"{named or f'Checkpoint {p}'} does not exist.")
        if p.stat().st_size > max_bytes:
            raise CheckpointError(_too_big(label, p.stat().st_size, max_bytes))
        data = p.read_bytes()
    if len(data) > max_bytes:
        raise CheckpointError(_too_big(label, len(data), max_bytes))
    if not data:
        raise CheckpointError(f"{label} is empty.")
    try:
        with warnings.catch_warnings():  # torch warns on stderr about odd pickles; we explain
            warnings.simplefilter("ignore")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # A zip (torch.save) or a raw pickle (b"\x80" protocol header) whose objects the
        # weights-only unpickler would not build: refused, and nothing ran.
        if data.startswith((b"PK", b"\x80")):
            raise CheckpointError(
                f"{label} was refused: it contains Python objects that could run code when "
                "loaded. Only checkpoints saved by MNIST Playground (weights and plain settings) "
                "are accepted."
            ) from None
        raise CheckpointError(_unreadable(label)) from None
    except Exception:  # any other parse failure of arbitrary bytes (IndexError, struct.error..)
        raise CheckpointError(_unreadable(label)) from None
    return _validate(payload, label)


def _unreadable(label: str) -> str:
    return f"{label} is not a readable checkpoint: it is truncated, damaged, or not a .pt file."


def _too_big(label: str, size: int, limit: int) -> str:
    return (
        f"{label} is {size / 1e6:.1f} MB, larger than any MNIST Playground checkpoint "
        f"(limit {limit / 1e6:.0f} MB)."
    )


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def _validate(payload: Any, label: str) -> Checkpoint:
    if not isinstance(payload, dict) or "state_dict" not in payload or "model" not in payload:
        raise CheckpointError(f"{label} is a PyTorch file but not an MNIST Playground checkpoint.")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{label} has no valid format version.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{label} uses checkpoint format {version}, newer than this app reads "
            f"({FORMAT_VERSION}). Update MNIST Playground to load it."
        )
    name = payload["model"]
    if name not in list_models():
        raise CheckpointError(
            f"{label} is for an unknown architecture {name!r}; "
            f"this app knows {', '.join(list_models())}."
        )
    kwargs = payload.get("model_kwargs") or {}
    state = payload["state_dict"]
    if not isinstance(kwargs, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{label} is damaged: model options or weights are malformed.")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{label} is damaged: its weights are not all tensors.")
    # NaN weights load fine but turn every prediction into NaN: refuse them here, once.
    if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
        raise CheckpointError(f"{label} is damaged: some of its weights are NaN or infinite.")
    _build(name, kwargs, state, label=label)  # shapes and names must fit; raises otherwise
    for key in ("config", "metrics", "history"):
        if not isinstance(payload.get(key, {}), dict):
            raise CheckpointError(f"{label} is damaged: {key} is malformed.")
    history = payload.get("history") or {}
    if history:
        try:
            RunHistory.from_dict(history)
        except ValueError as e:
            raise CheckpointError(
                f"{label} is damaged: its training history is malformed ({e})."
            ) from None
    return Checkpoint(
        model=name,
        model_kwargs=kwargs,
        state_dict=state,
        config=payload.get("config") or {},
        metrics=payload.get("metrics") or {},
        created=str(payload.get("created", "")),
        package_version=str(payload.get("package_version", "")),
        name=str(payload.get("name", "")),
        format_version=version,
        history=history,
    )


def uninitialised_model(name: str, **kwargs: Any) -> nn.Module:
    """The architecture on the CPU with its memory allocated but not initialised, for weights
    that are loaded next. Initialising would draw from torch's global RNG, which a training
    thread's dropout draws from too: a model copy taken while a job trains in this process
    would change that job's results."""
    with torch.device("meta"):
        model = create_model(name, **kwargs)
    return model.to_empty(device="cpu")


def _build(
    name: str, kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor], label: str = ""
) -> nn.Module:
    try:
        model = uninitialised_model(name, **dict(kwargs))
    except MnistError as e:
        raise CheckpointError(f"{label or 'Checkpoint'}: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        title = get_spec(name).title
        # torch's message: a header line, then "size mismatch for ..." / "Missing key(s) ...".
        lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
        detail = "; ".join(lines)[:300] or _first_line(e)
        raise CheckpointError(
            f"{label or 'Checkpoint'} does not fit the {title} architecture it names: {detail}"
        ) from None
    return model
