"""What the Compare page shows, as plain data: one `Run` per stored model, the table's rows
(only the settings that differ between them), each run's best epoch, its curves against the
chosen x axis, the sweeps, the Train link and the downloads.

Pure functions of checkpoints' `config`, `metrics` and `run_history` (which older checkpoints
lack, in part or whole: nothing here expects them), tested without Streamlit. Only `load_run`
touches Streamlit, for its cache.
"""

from __future__ import annotations

import csv
import io
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
from mnist_core.train.config import MNIST_TRAIN_SIZE, TrainConfig
from mnist_core.train.sweep import format_value
from ui.resources import get_store, model_version, pretrained_dir, runs_dir
from ui.train_form import query
from ui.train_form.labels import CHOICE_LABELS, LABELS, option_label

X_AXES = ("epoch", "training seconds", "images seen")

# The table's fixed columns (row keys -> headers); the differing settings go after Architecture.
NAME, ARCH = "name", "architecture"
RESULT_COLUMNS = {
    "test_accuracy": "Test accuracy",
    "best_val_accuracy": "Best validation",
    "best_test_accuracy": "Best test",
    "best_epoch": "Best epoch",
    "train_seconds": "Training time (s)",
    "images_per_s": "Images / s",
    "n_params": "Parameters",
    "status": "Status",
    "sweep": "Sweep",
}
PERCENT_COLUMNS = ("test_accuracy", "best_val_accuracy", "best_test_accuracy")
OPTIONS = "model_kwargs"  # the architecture options, one column
HAS_SETTINGS = "has_settings"  # a row's flag: False when its file records no settings
# Every TrainConfig field but the architecture (its own column), in the dataclass's order.
PARAMS = tuple(f.name for f in fields(TrainConfig) if f.name != "model")
_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.name not in ("model", OPTIONS)}
LOG_PARAMS = frozenset({"lr"})  # drawn on a log10 axis on the sweep chart


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
        return _number(self.metrics.get("test_accuracy"))

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


def _number(value: Any) -> float | None:
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
    vals = [_number(v) for v in history.epochs.get("val_accuracy") or []]
    tests = [_number(v) for v in history.epochs.get("test_accuracy") or []]

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
        trained = _number(metrics.get("epochs_trained"))
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


# ---- the table -------------------------------------------------------------------------------


def table_rows(runs: Sequence[Run]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per run (raw values, keys: "id", NAME, ARCH, HAS_SETTINGS, each differing
    setting, then RESULT_COLUMNS), and the differing settings' names."""
    configs = [full_config(r) for r in runs]
    params = differing_params(configs)
    rows = []
    for run, config in zip(runs, configs, strict=True):
        best = best_of(run.history)
        row: dict[str, Any] = {"id": run.id, NAME: run.name, ARCH: run.architecture}
        row[HAS_SETTINGS] = config is not None
        for name in params:
            row[name] = None if config is None else config.get(name)
        row.update(
            test_accuracy=run.test_accuracy,
            best_val_accuracy=best.val_accuracy,
            best_test_accuracy=best.test_accuracy,
            best_epoch=best.epoch,
            train_seconds=_number(run.metrics.get("train_seconds")),
            images_per_s=_number(run.metrics.get("images_per_s")),
            n_params=run.n_params,
            status=status_text(run.metrics),
            sweep=run.sweep,
        )
        rows.append(row)
    return rows, params


def numeric_params(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> list[str]:
    """The settings among `params` that are a number in every row that records settings (the
    table shows them as numbers, which sort as numbers); the others are shown as text."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    known = [r for r in rows if r[HAS_SETTINGS]]
    return [p for p in params if known and all(number(r[p]) for r in known)]


def display_rows(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> list[dict]:
    """The rows as the page's table shows them: headers in words, numeric settings as
    numbers and the others as text (blank without settings), accuracies in percent, images
    per second rounded."""
    numeric = set(numeric_params(rows, params))
    out = []
    for row in rows:
        shown: dict[str, Any] = {"Name": row[NAME], "Architecture": row[ARCH]}
        for name in params:
            if name in numeric:
                shown[param_label(name)] = row[name] if row[HAS_SETTINGS] else None
            else:
                shown[param_label(name)] = param_text(name, row[name]) if row[HAS_SETTINGS] else ""
        for key, header in RESULT_COLUMNS.items():
            value = row[key]
            if key in PERCENT_COLUMNS and value is not None:
                value = 100.0 * value
            elif key == "images_per_s" and value is not None:
                value = round(value)
            shown[header] = value
        out.append(shown)
    return out


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_plain(value), separators=(",", ":"))
    return value


def table_csv(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> str:
    """Every row, in full precision (accuracies as fractions, raw setting values), headed by
    the settings' field names."""
    header = ["id", NAME, ARCH, *params, *RESULT_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(row.get(k)) for k in header])
    return buffer.getvalue()


def remap_rows(old_ids: Sequence[str], new_ids: Sequence[str], rows: Sequence[int]) -> list[int]:
    """A table selection (row positions in `old_ids`) moved to the same runs' positions in
    `new_ids`: a new run listed first must not shift the selection onto other runs. Runs
    that are gone drop out."""
    where = {model_id: i for i, model_id in enumerate(new_ids)}
    out = []
    for i in rows:
        if 0 <= i < len(old_ids) and old_ids[i] in where:
            out.append(where[old_ids[i]])
    return sorted(set(out))


# ---- curves ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """A run's curves against one x axis: the loss at each saved point, validation accuracy at
    each epoch's end, test accuracy at each measurement (epoch ends and checks)."""

    name: str
    loss_x: list[float]
    loss: list[float]
    val_x: list[float]
    val_acc: list[float]
    test_x: list[float]
    test_acc: list[float]


def images_per_epoch(run: Run) -> int:
    """Training images per epoch: the history's, else from the settings (0: unknown)."""
    if run.history is not None and run.history.n_train:
        return run.history.n_train
    config = full_config(run)
    if config is None:
        return 0
    subset, val = config.get("train_subset"), config.get("val_size")
    if isinstance(subset, int) and subset > 0:
        return subset
    return MNIST_TRAIN_SIZE - val if isinstance(val, int) else 0


def series(run: Run, x_axis: str) -> Series | None:
    """The run's curves against `x_axis` (one of X_AXES); None without curves, or for
    "images seen" when the images per epoch are unknown."""
    if run.history is None:
        return None
    if x_axis not in X_AXES:
        raise ValueError(f"unknown x axis {x_axis!r}")
    n_train = images_per_epoch(run)
    if x_axis == "images seen" and not n_train:
        return None

    def x(epoch: float, seconds: float) -> float:
        if x_axis == "epoch":
            return float(epoch)
        if x_axis == "training seconds":
            return float(seconds)
        return float(epoch) * n_train

    h = run.history
    loss_x, loss = [], []
    for s in h.step_events():
        if math.isfinite(s.loss):  # a diverged run's NaN points are left out
            loss_x.append(x(s.epoch, s.train_seconds))
            loss.append(s.loss)
    val_x, val_acc, tests = [], [], []
    for e in h.epoch_events():
        if e.val_accuracy is not None:
            val_x.append(x(e.epoch, e.train_seconds))
            val_acc.append(e.val_accuracy)
        if e.test_accuracy is not None:
            tests.append((e.step, x(e.epoch, e.train_seconds), e.test_accuracy))
    tests += [(c.step, x(c.epoch, c.train_seconds), c.test_accuracy) for c in h.check_events()]
    tests.sort(key=lambda t: t[0])
    return Series(
        name=run.name,
        loss_x=loss_x,
        loss=loss,
        val_x=val_x,
        val_acc=val_acc,
        test_x=[t[1] for t in tests],
        test_acc=[t[2] for t in tests],
    )


# ---- sweeps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    key: str  # the sweep's id, else its name (older tags)
    name: str
    params: list[str]  # the settings it varied
    runs: list[Run]

    @property
    def scored(self) -> list[Run]:
        """Its runs with a test accuracy (the chart's lines)."""
        return [r for r in self.runs if r.test_accuracy is not None]

    @property
    def best(self) -> Run | None:
        scored = self.scored
        return max(scored, key=lambda r: r.test_accuracy or 0.0) if scored else None


def find_sweeps(runs: Sequence[Run]) -> list[Sweep]:
    """The sweeps among `runs`, in the order their first run is listed. The swept settings are
    the runs' "sweep_params", else the settings that differ between the sweep's runs."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        if not run.sweep:
            continue
        sweep_id = run.metrics.get("sweep_id")
        key = sweep_id if isinstance(sweep_id, str) and sweep_id else run.sweep
        groups.setdefault(key, []).append(run)
    out = []
    for key, members in groups.items():
        params: list[str] = []
        for run in members:
            named = run.metrics.get("sweep_params")
            for p in named if isinstance(named, list) else []:
                if isinstance(p, str) and p in PARAMS and p not in params:
                    params.append(p)
        if not params:
            params = differing_params([full_config(r) for r in members])
        out.append(Sweep(key=key, name=members[0].sweep, params=params, runs=members))
    return out


def sweep_values(sweep: Sweep) -> list[dict[str, Any]]:
    """Each scored run's swept settings ({name: value}; None where its file has none)."""
    rows = []
    for run in sweep.scored:
        config = full_config(run) or {}
        rows.append({p: config.get(p) for p in sweep.params})
    return rows


def best_caption(sweep: Sweep) -> str:
    """E.g. "Best: lr sweep · lr=0.003, lr=0.003, test 99.12%" (the run's name, then its
    swept settings)."""
    best = sweep.best
    if best is None:
        return "No run of this sweep has a test accuracy yet."
    config = full_config(best) or {}
    settings = ", ".join(f"{p}={format_value(config.get(p))}" for p in sweep.params)
    accuracy = 100 * (best.test_accuracy or 0.0)
    return f"Best: {best.name}{', ' + settings if settings else ''}, test {accuracy:.2f}%"


# ---- the selected run ------------------------------------------------------------------------


def train_again_params(run: Run) -> dict[str, str] | None:
    """The Train page's query parameters for this run's settings; None when it has none."""
    if not run.config:
        return None
    return query.config_query_params({"model": run.model, **run.config})


def _plain(value: Any) -> Any:
    """JSON-safe: tuples as lists, NaN and infinities as None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
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
    return json.dumps(_plain(payload), indent=1, allow_nan=False)
