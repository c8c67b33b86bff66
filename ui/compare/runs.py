"""The Compare page's runs: one `Run` per stored model, read from its checkpoint (cached), its
best epoch and outcome in words, its full settings and how the table words them, the Train
link and the history download.

Pure functions of checkpoints' `config`, `metrics` and `run_history` (which older checkpoints
lack, in part or whole: nothing here expects them), tested without Streamlit. Only `load_run`
touches Streamlit, for its cache.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import streamlit as st

from mnist_core.models import get_spec
from mnist_core.storage.checkpoints import Checkpoint
from mnist_core.storage.history import RunHistory
from mnist_core.storage.store import StoredModel
from mnist_core.train.config import TrainConfig
from mnist_core.train.sweep import format_value
from ui.resources import get_store, model_version, pretrained_dir, runs_dir
from ui.train_form import query
from ui.train_form.labels import CHOICE_LABELS, LABELS, option_label

OPTIONS = "model_kwargs"  # the architecture options, one column
# Every TrainConfig field but the architecture (its own column), in the dataclass's order.
PARAMS = tuple(f.name for f in fields(TrainConfig) if f.name != "model")
_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.name not in ("model", OPTIONS)}


@dataclass(frozen=True)
class Run:
    """One stored model as the page compares it."""

    id: str
    name: str
    model: str  # architecture name, e.g. "mlp"
    architecture: str  # its title, e.g. "MLP"
    read_only: bool
    config: Mapping[str, Any]  # TrainConfig.to_dict(), or {} when the file records none
    metrics: Mapping[str, Any]
    n_params: int
    history: RunHistory | None  # None: no curves saved

    @property
    def test_accuracy(self) -> float | None:
        return number(self.metrics.get("test_accuracy"))

    @property
    def sweep(self) -> str:
        name = self.metrics.get("sweep")
        return name if isinstance(name, str) else ""


def run_from_checkpoint(stored: StoredModel, ckpt: Checkpoint) -> Run:
    try:
        history = ckpt.run_history
    except ValueError:  # the store validates histories; a damaged one is no curves at all
        history = None
    try:
        title = get_spec(ckpt.model).title
    except KeyError:
        title = ckpt.model
    return Run(
        id=stored.id,
        name=stored.name,
        model=ckpt.model,
        architecture=title,
        read_only=stored.read_only,
        config=dict(ckpt.config),
        metrics=dict(ckpt.metrics),
        n_params=ckpt.n_params,
        history=None if history is None or history.empty else history,
    )


@st.cache_data(show_spinner=False, max_entries=512)
def _load_run(model_id: str, version: float, pretrained: str, runs: str) -> Run:
    store = get_store()  # the store of these folders (which key the cache)
    return run_from_checkpoint(store.get(model_id), store.load(model_id))


def load_run(stored: StoredModel) -> Run:
    """The Run of a stored model, cached by id and file time (CheckpointError when it cannot
    be read any more)."""
    return _load_run(stored.id, model_version(stored), str(pretrained_dir()), str(runs_dir()))


# ---- numbers ---------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Best:
    """A run's best epoch: the highest validation accuracy (else test accuracy), first reached
    at `epoch`; and the best of each accuracy over the epochs."""

    val_accuracy: float | None = None
    test_accuracy: float | None = None
    epoch: int | None = None


def best_of(history: RunHistory | None) -> Best:
    if history is None:
        return Best()
    epochs = history.epochs.get("epoch") or []
    vals = [number(v) for v in history.epochs.get("val_accuracy") or []]
    tests = [number(v) for v in history.epochs.get("test_accuracy") or []]

    def best(values: list[float | None]) -> tuple[float | None, int | None]:
        found = [(v, i) for i, v in enumerate(values) if v is not None and i < len(epochs)]
        if not found:
            return None, None
        top = max(v for v, _ in found)
        return top, next(int(epochs[i]) for v, i in found if v == top)

    best_val, val_epoch = best(vals)
    best_test, test_epoch = best(tests)
    return Best(best_val, best_test, val_epoch if val_epoch is not None else test_epoch)


def _epochs(value: float) -> str:
    """7.7916 -> "7.79", 3.0 -> "3"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def status_text(metrics: Mapping[str, Any]) -> str:
    """The run's outcome: "finished", "stopped at epoch 2.5 of 8", another status as it is;
    "" when the file does not say (pretrained models, older checkpoints)."""
    status = metrics.get("status")
    if not isinstance(status, str) or not status:
        return ""
    if status == "stopped":
        trained = number(metrics.get("epochs_trained"))
        planned = metrics.get("epochs_planned")
        if trained is not None:
            of = f" of {planned}" if isinstance(planned, int) else ""
            return f"stopped at epoch {_epochs(trained)}{of}"
    return status


# ---- settings --------------------------------------------------------------------------------


def full_config(run: Run) -> dict[str, Any] | None:
    """Every setting of the run, those an older checkpoint lacks at their default (what it
    trained with), the architecture options with the architecture's defaults. None when the
    file records no settings."""
    if not run.config:
        return None
    values = {**_DEFAULTS, **{k: v for k, v in run.config.items() if k in _DEFAULTS}}
    try:
        options = get_spec(run.model).default_kwargs()
    except KeyError:
        options = {}
    values[OPTIONS] = {**options, **dict(run.config.get(OPTIONS) or {})}
    return values


def _comparable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _comparable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_comparable(v) for v in value)
    return value


def differing_params(configs: Sequence[Mapping[str, Any] | None]) -> list[str]:
    """The settings (PARAMS order) whose values are not the same in every config given; rows
    without a config (None) are left out of the comparison."""
    known = [c for c in configs if c is not None]
    return [name for name in PARAMS if len({repr(_comparable(c.get(name))) for c in known}) > 1]


def param_label(name: str) -> str:
    if name == OPTIONS:
        return "Architecture options"
    return LABELS.get(name, name.replace("_", " ").capitalize())


def param_text(name: str, value: Any) -> str:
    """A setting's value as the table shows it: "AdamW", "0.003", "all", "yes"."""
    if name == OPTIONS and isinstance(value, Mapping):
        return "; ".join(f"{option_label(k)} {param_text('', v)}" for k, v in value.items())
    if value is None:
        return "all" if name == "train_subset" else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return CHOICE_LABELS.get(name, {}).get(value, value)
    return format_value(value)


# ---- the selected run ------------------------------------------------------------------------


def train_again_params(run: Run) -> dict[str, str] | None:
    """The Train page's query parameters for this run's settings; None when it has none."""
    if not run.config:
        return None
    return query.config_query_params({"model": run.model, **run.config})


def plain(value: Any) -> Any:
    """JSON-safe: tuples as lists, NaN and infinities as None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def history_json(run: Run) -> str:
    """The run's name, architecture, settings, metrics and history as JSON (ValueError when
    it has no history)."""
    if run.history is None:
        raise ValueError(f"{run.name} has no saved curves")
    payload = {
        "name": run.name,
        "model": run.model,
        "config": run.config,
        "metrics": run.metrics,
        "history": run.history.to_dict(),
    }
    return json.dumps(plain(payload), indent=1, allow_nan=False)
