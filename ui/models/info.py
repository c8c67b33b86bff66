"""What the Models page says about a saved model, in words: how its run ended, what changed
while it ran, its settings as a table, and how long a visitor's models are kept.

No Streamlit here: plain functions of a checkpoint's `config` and `metrics` (plain dicts, which
checkpoints written by older versions fill with fewer keys), so they are tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mnist_core.models import get_spec
from mnist_core.storage.store import StoredModel
from mnist_core.train.config import MNIST_TRAIN_SIZE
from mnist_core.words import count_of
from ui.train_form.labels import CHOICE_LABELS, LABELS, option_label

# Shown for settings a checkpoint has no value for (None), by setting; others read "not set".
_NONE_VALUES = {"train_subset": f"all ({MNIST_TRAIN_SIZE:,} less the validation images)"}
# Values that mean something else than their number (the field's help says so on Train).
_SPECIAL_VALUES = {("threads", 0): "all"}


def retention_note(keep_unsaved: int, unsaved_ttl_s: float) -> str:
    """How long a visitor's models and runs are kept, from the job manager's own figures
    (`JobManager.keep_finished` and `done_ttl_s`). Saved models have no expiry: the store
    deletes nothing by itself (`mnist_core.storage.store`)."""
    return (
        "Your models belong to this browser (a cookie): they are still here after a reload and "
        "in other tabs, but another browser or a private window does not see them. Saved models "
        "are kept on the server until you delete them (or its disk is wiped: download a model "
        "you want to keep). Runs that are not saved (stopped, or "
        f"whose save failed) are kept in memory only: your last {keep_unsaved}, for "
        f"{_minutes(unsaved_ttl_s)} after your last visit, and not across a server restart."
    )


def _minutes(seconds: float) -> str:
    """1800 -> "30 minutes", 90 -> "1.5 minutes"."""
    minutes = seconds / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


def _created_key(m: StoredModel) -> tuple[float, float]:
    try:
        t = datetime.fromisoformat(m.created)
        created = (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    except (TypeError, ValueError):
        created = float("-inf")  # unknown times go last
    try:
        added = m.path.stat().st_mtime  # ties (the same file uploaded twice): newest added first
    except OSError:
        added = 0.0
    return created, added


def newest_first(models: Sequence[StoredModel]) -> list[StoredModel]:
    """`models` by creation time, newest first (the time the model was trained, from its file;
    the same file uploaded twice: the later upload first)."""
    return sorted(models, key=_created_key, reverse=True)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _epochs(value: float) -> str:
    """7.7916 -> "7.79", 20.0 -> "20"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def outcome(metrics: Mapping[str, Any]) -> str:
    """How the run ended, e.g. "Stopped at epoch 7.79 of 20 (step 3,358 of 8,600)."; checkpoints
    from before this was recorded say what they know."""
    status = metrics.get("status")
    planned = metrics.get("epochs_planned")
    trained = metrics.get("epochs_trained")
    steps, total = metrics.get("steps"), metrics.get("total_steps")
    done = metrics.get("epochs")  # whole epochs completed (in every version's checkpoints)
    of_steps = (
        f" (step {steps:,} of {total:,})"
        if isinstance(steps, int) and isinstance(total, int)
        else ""
    )
    if status == "finished":
        n = planned if isinstance(planned, int) else done
        if n == 1:
            return "Finished: trained its 1 epoch."
        return f"Finished: trained all {n} epochs." if n else "Finished."
    if status == "stopped":
        if isinstance(trained, int | float) and isinstance(planned, int):
            return f"Stopped at epoch {_epochs(trained)} of {planned}{of_steps}."
        if isinstance(steps, int):
            return (
                f"Stopped after {count_of(steps, 'step')} ({count_of(done or 0, 'whole epoch')})."
            )
        return "Stopped before the end."
    if isinstance(status, str) and status:
        return f"{status.capitalize()}{of_steps}."
    if isinstance(done, int):
        return f"Trained {count_of(done, 'epoch')}."
    return "How this model was trained was not recorded."


def history(metrics: Mapping[str, Any]) -> list[str]:
    """What changed while the run trained: learning-rate changes and pauses, one line each."""
    lines = []
    for change in metrics.get("lr_changes") or []:
        try:
            step, old, new = int(change["step"]), float(change["from"]), float(change["to"])
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry in an uploaded file: leave it out
        lines.append(f"Learning rate changed from {old:g} to {new:g} after step {step:,}.")
    pauses = [p for p in metrics.get("pauses") or [] if isinstance(p, int)]
    if pauses:
        at = ", ".join(f"{p:,}" for p in pauses)
        many = len(pauses) > 1
        lines.append(
            f"Paused {len(pauses)} time{'s' if many else ''} (at step{'s' if many else ''} {at})."
        )
    return lines


def _setting_value(name: str, value: Any) -> str:
    if value is None:
        return _NONE_VALUES.get(name, "not set")
    if isinstance(value, int | float | str) and (name, value) in _SPECIAL_VALUES:
        return _SPECIAL_VALUES[(name, value)]
    if name == "seed":  # a name for a sequence, not a quantity: no thousands separators
        return str(value)
    if name in CHOICE_LABELS and isinstance(value, str):
        return CHOICE_LABELS[name].get(value, value)
    return _number(value)


def _option_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_number(v) for v in value)
    return _setting_value("", value)


def settings_rows(
    model: str,
    model_kwargs: Mapping[str, Any],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """(setting, value) in words, for a table: the architecture and its options, then every
    training setting with the labels of the Train page. The learning rate and the epochs say
    when the run changed or did not reach them."""
    try:
        spec = get_spec(model)
        title, options = spec.title, {**spec.default_kwargs(), **model_kwargs}
    except KeyError:
        title, options = model, dict(model_kwargs)
    rows = [("Architecture", title)]
    rows += [(option_label(k), _option_value(v)) for k, v in options.items()]
    changes = [c for c in metrics.get("lr_changes") or [] if isinstance(c, Mapping)]
    for name, value in config.items():
        if name in ("model", "model_kwargs"):
            continue
        if name == "momentum" and config.get("optimizer") not in (None, "sgd"):
            continue  # only SGD uses it: the value says nothing about this run
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        text = _setting_value(name, value)
        if name == "lr" and changes and isinstance(changes[-1].get("to"), int | float):
            text += f" at the start; {changes[-1]['to']:g} at the end"
        if name == "epochs" and metrics.get("status") == "stopped":
            trained = metrics.get("epochs_trained")
            if isinstance(trained, int | float):
                text += f" planned; stopped at {_epochs(trained)}"
        rows.append((label, text))
    return rows
