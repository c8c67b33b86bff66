"""The sweeps among the runs: which settings each varied, its runs' values of them, and its
best run in words. Tested without Streamlit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.train.sweep import format_value
from ui.compare.runs import PARAMS, Run, differing_params, full_config

LOG_PARAMS = frozenset({"lr"})  # drawn on a log10 axis on the sweep chart


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
