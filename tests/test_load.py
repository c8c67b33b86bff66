"""The load script (`python -m bench load`): a short smoke run, no timed assertions.

Latency and memory figures depend on the machine and on whatever else runs on it, so only the
report's structure and the absence of errors are checked here; the real 10-minute run is done
by hand (see the docstring of bench/load/__init__.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.load.checks import Seen, violations
from mnist_core.jobs import TrainingRunner
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import StepMetrics


@pytest.fixture(scope="module")
def smoke(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """One 18-second run with 4 sessions through the command-line entry: (JSON report, stdout)."""
    out = tmp_path_factory.mktemp("load") / "load.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):  # progress and errors go to stderr
        args = ["load", "--sessions", "4", "--minutes", "0.3", "--data-dir", str(mnist_dir)]
        code = main([*args, "--json", str(out)])
    assert code == 0
    return json.loads(out.read_text()), stdout.getvalue()


@pytest.mark.slow
def test_smoke_run_has_no_errors(smoke: tuple[dict, str]) -> None:
    report, _ = smoke
    errors = report["errors"]
    assert errors["count"] == 0, json.dumps(errors["first"], indent=2)[:3000]
    assert errors["exceptions"] == errors["violations"] == errors["failed_jobs"] == 0


@pytest.mark.slow
def test_smoke_report_structure(smoke: tuple[dict, str]) -> None:
    report, _ = smoke
    assert report["options"]["sessions"] == 4 and report["options"]["max_running"] == 1
    assert 0.25 * 60 <= report["duration_s"] < 0.3 * 60 + 60
    jobs = report["jobs"]
    assert jobs["submitted"] >= 1
    ended = sum(jobs[k] for k in ("finished", "stopped", "reaped", "failed", "diverged"))
    assert ended + jobs["under_way_at_end"] <= jobs["submitted"]
    assert report["max_running_seen"] <= 1
    assert report["actions"]["predict"] >= 1 and report["actions"]["snapshot"] >= 1
    for key in ("predict_training", "predict_idle", "model_copy"):
        stats = report["latency_ms"][key]
        assert set(stats) == {"n", "p50", "p95", "max"}
        if stats["n"]:
            assert 0 < stats["p50"] <= stats["p95"] <= stats["max"]
    n_predict = sum(report["latency_ms"][k]["n"] for k in ("predict_training", "predict_idle"))
    assert n_predict == report["actions"]["predict"]
    # Real digits drawn large and a pretrained model: nearly all right (no timing involved).
    assert report["pretrained_accuracy"] is None or report["pretrained_accuracy"] > 0.8
    mem = report["memory_mb"]
    assert 0 < mem["start"] <= mem["peak"] and 0 < mem["end"] <= mem["peak"]
    assert mem["growth"] == pytest.approx(mem["settled"] - mem["start"])
    assert mem["growth_at_deadline"] == pytest.approx(mem["end"] - mem["start"])
    assert mem["after_gc"] > 0 and mem["samples"] >= 10
    assert [t["name"].split()[0] for t in report["targets"]] == ["errors", "prediction", "memory"]
    assert all(isinstance(t["pass"], bool) for t in report["targets"])


@pytest.mark.slow
def test_smoke_prints_summary_with_pass_or_miss(smoke: tuple[dict, str]) -> None:
    _, stdout = smoke
    assert "Jobs" in stdout and "predict, a job training" in stdout and "Memory (MB)" in stdout
    verdicts = [line.split()[0] for line in stdout.splitlines() if line.startswith("  PASS")]
    verdicts += [line.split()[0] for line in stdout.splitlines() if line.startswith("  MISS")]
    assert len(verdicts) == 3


def test_checker_catches_inconsistent_snapshots() -> None:
    """The consistency checks are not vacuous: each broken invariant is reported."""
    config = TrainConfig.for_model("mlp", train_subset=300, val_size=100, epochs=1)
    runner = TrainingRunner(config, lambda: None, job_id="j", owner="o", name="mlp #1")  # type: ignore[arg-type,return-value]
    base = runner.snapshot()
    assert violations(base, None) == []

    def steps(*numbers: int) -> tuple[StepMetrics, ...]:
        return tuple(StepMetrics(n, n / 10, 1.0, 1e-3, 100.0, n / 10) for n in numbers)

    running = dataclasses.replace(base, status="running", step=3, steps=steps(1, 2, 3))
    assert violations(running, None) == []
    seen = Seen(step=5, n_steps=5, n_epochs=0, status="running", done=False)
    assert any("backwards" in v for v in violations(running, seen))
    assert any("shrank" in v for v in violations(running, seen))
    assert violations(dataclasses.replace(running, steps=steps(1, 3, 2)), None)
    assert violations(dataclasses.replace(running, step=10**6), None)
    assert violations(dataclasses.replace(running, queue_position=2), None)
    finished = dataclasses.replace(running, status="finished")
    assert any("checkpoint" in v for v in violations(finished, None))
    done = Seen(step=3, n_steps=3, n_epochs=0, status="stopped", done=True)
    assert any("was stopped" in v for v in violations(running, done))
