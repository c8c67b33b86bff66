"""The Compare page's table as plain data: one row per run with only the settings that
differ between the runs, the rows as the page shows them, the CSV download, and a selection
kept on the same runs when the list changes. Tested without Streamlit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from mnist_core.storage.store import public_id
from ui.compare.runs import (
    Run,
    best_of,
    differing_params,
    full_config,
    number,
    param_label,
    param_text,
    plain,
    status_text,
)

# The table's fixed columns (row keys -> headers); the differing settings go after Architecture.
NAME, ARCH = "name", "architecture"
RESULT_COLUMNS = {
    "test_accuracy": "Test accuracy",
    "best_val_accuracy": "Best validation",
    "best_test_accuracy": "Best test",
    "best_epoch": "Best epoch",
    "train_seconds": "Training time (s)",
    "wall_seconds": "Wall time (s)",
    "images_per_s": "Images / s",
    "n_params": "Parameters",
    "status": "Status",
    "sweep": "Sweep",
}
PERCENT_COLUMNS = ("test_accuracy", "best_val_accuracy", "best_test_accuracy")
# The results shown before the architecture and the settings (the others after them).
FIRST_RESULTS = ("Test accuracy", "Best validation", "Best test")
HAS_SETTINGS = "has_settings"  # a row's flag: False when its file records no settings


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
            train_seconds=number(run.metrics.get("train_seconds")),
            wall_seconds=number(run.metrics.get("wall_seconds")),
            images_per_s=number(run.metrics.get("images_per_s")),
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
        # The results first, then what the runs were: at 1400 px the test accuracy was behind
        # a horizontal scroll after the settings (issue 27, item 9).
        shown: dict[str, Any] = {"Name": row[NAME]}
        results = {header: _shown_result(key, row[key]) for key, header in RESULT_COLUMNS.items()}
        shown |= {h: results[h] for h in FIRST_RESULTS}
        shown["Architecture"] = row[ARCH]
        for name in params:
            if name in numeric:
                shown[param_label(name)] = row[name] if row[HAS_SETTINGS] else None
            else:
                shown[param_label(name)] = param_text(name, row[name]) if row[HAS_SETTINGS] else ""
        shown |= {h: v for h, v in results.items() if h not in FIRST_RESULTS}
        out.append(shown)
    return out


def _shown_result(key: str, value: Any) -> Any:
    if key in PERCENT_COLUMNS and value is not None:
        return 100.0 * value
    if key == "images_per_s" and value is not None:
        return round(value)
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(plain(value), separators=(",", ":"))
    return value


def table_csv(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> str:
    """Every row, in full precision (accuracies as fractions, raw setting values), headed by
    the settings' field names; ids as `public_id` gives them."""
    header = ["id", NAME, ARCH, *params, *RESULT_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        # The id as people may see it: never the owner folder of a visitor's runs.
        shown = {**row, "id": public_id(row["id"])}
        writer.writerow([_csv_value(shown.get(k)) for k in header])
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
