"""Sweeps (issue 14): expansion of grids and random ranges, refusals that name the value, a
real 4-run sweep through the job manager and through `python -m mnist_core sweep`."""

from __future__ import annotations

import json
import math
import time

import pytest

from mnist_core.cli.main import main
from mnist_core.errors import ConfigError
from mnist_core.jobs import JobManager
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig
from mnist_core.train.sweep import MAX_RUNS, SweepParam, SweepSpec

BASE = TrainConfig(model="mlp", epochs=1, train_subset=600, val_size=100)


def grid(name, values):
    return SweepParam.grid(name, values)


def test_a_grid_is_every_combination_in_the_order_given():
    spec = SweepSpec(BASE, (grid("lr", "1e-3, 3e-3, 1e-2"), grid("batch_size", "32,64")))
    assert spec.n_runs == 6
    assert spec.overrides()[:3] == [
        {"lr": 1e-3, "batch_size": 32},
        {"lr": 1e-3, "batch_size": 64},
        {"lr": 3e-3, "batch_size": 32},
    ]
    configs = spec.configs()
    assert len(configs) == 6 and all(c.epochs == 1 and c.model == "mlp" for c in configs)
    assert spec.run_label(spec.overrides()[-1]) == "lr=0.01 batch_size=64"
    assert grid("optimizer", "sgd, adamw").values == ("sgd", "adamw")
    assert grid("eval_test", "true,false").values == (True, False)


def test_random_samples_of_a_log_range_cover_its_decades_and_combine_with_a_grid():
    spec = SweepSpec(
        BASE,
        (SweepParam.range("lr", "1e-4:1e-1:log"), grid("optimizer", "sgd,adamw")),
        samples=30,
        seed=3,
    )
    assert spec.n_runs == 60
    lrs = sorted({o["lr"] for o in spec.overrides()})
    assert len(lrs) == 30 and all(1e-4 <= v <= 1e-1 for v in lrs)
    # Log-uniform: about a third of the samples in each decade, not 90% in the top one.
    decades = [math.floor(math.log10(v)) for v in lrs]
    assert {d: decades.count(d) for d in (-4, -3, -2)} == {
        d: pytest.approx(10, abs=6) for d in (-4, -3, -2)
    }
    assert spec.overrides() == SweepSpec(BASE, spec.params, samples=30, seed=3).overrides()
    ints = SweepSpec(BASE, (SweepParam.range("batch_size", "16:256:log"),), samples=5)
    assert all(isinstance(o["batch_size"], int) for o in ints.overrides())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: grid("lr", "1e-3, 20"), "lr=20 is refused: it must be between 1e-06 and 10"),
        (lambda: grid("lr", "fast"), "lr=fast is refused"),
        (lambda: grid("optimizer", "sgd, rmsprop"), "optimizer=rmsprop is refused: choose one"),
        (lambda: grid("model", "mlp"), "'model' cannot be swept"),
        (lambda: grid("lr", "1e-3, 1e-3"), "lists a value twice"),
        (lambda: SweepParam.range("lr", "0:1:log"), "lr=0 is refused"),
        (lambda: SweepParam.range("lr", "0.1:0.01"), "needs LO < HI"),
        (lambda: SweepParam.range("optimizer", "a:b"), "optimizer=a is refused"),
        (lambda: SweepParam.range("lr", "1e-3"), "must be LO:HI or LO:HI:log"),
        (
            lambda: SweepSpec(BASE, (grid("lr", ",".join(f"{i}e-4" for i in range(1, 66))),)),
            f"has 65 runs; at most {MAX_RUNS} are allowed",
        ),
        (
            lambda: SweepSpec(BASE, (grid("lr", "1e-3"),) * 2),
            "lr is swept twice",
        ),
        (
            lambda: SweepSpec(
                BASE, tuple(grid(n, "1") for n in ("epochs", "seed", "eval_every", "threads"))
            ),
            "'threads' cannot be swept",
        ),
        (
            lambda: SweepSpec(
                BASE,
                tuple(grid(n, "1,2") for n in ("epochs", "seed", "eval_every", "aug_rotation")),
            ),
            "at most 3 settings",
        ),
        (lambda: SweepSpec(BASE, (SweepParam.range("lr", "1e-3:1e-2"),)), "random samples"),
        (lambda: SweepSpec(BASE, (grid("lr", "1e-3"),), samples=4), "need at least one range"),
        # Refused by the base settings: 600 training images, batches of 1,000.
        (
            lambda: SweepSpec(BASE, (grid("batch_size", "64, 1000"),)),
            "The run batch_size=1000 is refused",
        ),
        (lambda: SweepSpec(BASE, ()), "at least one setting"),
    ],
)
def test_bad_sweeps_are_refused_naming_the_value(make, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("lr", "banana", "lr=banana is refused: cannot read 'banana': give a finite number"),
        ("batch_size", "1.5", "cannot read '1.5': give a whole number, e.g. 128."),
        ("eval_test", "maybe", "cannot read 'maybe': give true or false."),
        ("train_subset", "many", "cannot read 'many': give a whole number, or all."),
    ],
)
def test_a_value_that_cannot_be_read_is_refused_in_our_words(name, text, expected):
    """Issue 27, item 14: it said "cannot read 'banana' (could not convert string to float:
    'banana')", Python's words."""
    with pytest.raises(ConfigError) as info:
        grid(name, text)
    assert expected in str(info.value)
    assert "convert" not in str(info.value) and "invalid literal" not in str(info.value)


def test_a_4_run_sweep_through_the_job_manager(mnist_raw, tmp_path):
    """keep_finished=1: the manager forgets done jobs at once, the sweep keeps their figures."""
    store = ModelStore(pretrained_dir=tmp_path / "none", runs_dir=tmp_path / "runs")
    manager = JobManager(1, data=lambda: mnist_raw, store=store, keep_finished=1)
    try:
        spec = SweepSpec(BASE, (grid("lr", "1e-3, 1e-2"), grid("batch_size", "32, 64")))
        sweep_id = manager.submit_sweep(spec, "alice", "my sweep")
        first = manager.sweep(sweep_id)
        assert len(first.runs) == 4 and first.queued + first.running == 4
        assert manager.running_count() == 1  # the same queue and slots as any job
        deadline = time.monotonic() + 120
        while not manager.sweep(sweep_id).finished and time.monotonic() < deadline:
            time.sleep(0.1)
        snap = manager.sweep(sweep_id)
        assert [r.status for r in snap.runs] == ["finished"] * 4, [r.message for r in snap.runs]
        assert len(manager.jobs("alice")) == 1  # the others were trimmed ...
        assert all(r.checkpoint_id and r.test_accuracy for r in snap.runs)  # ... not lost
        assert snap.best == max(snap.runs, key=lambda r: r.test_accuracy)
        assert snap.seconds_left == 0.0
        assert snap.runs[0].name == "my sweep · lr=0.001 batch_size=32"
        ckpt = store.load(snap.runs[3].checkpoint_id)
        assert ckpt.config["lr"] == 1e-2 and ckpt.config["batch_size"] == 64
        assert ckpt.metrics["sweep"] == "my sweep" and ckpt.metrics["sweep_id"] == sweep_id
        assert ckpt.run_history.epochs["test_accuracy"] == [snap.runs[3].test_accuracy]
        assert [s.name for s in manager.sweeps("alice")] == ["my sweep"]
        assert manager.sweeps("bob") == []
    finally:
        manager.shutdown()


def test_stop_sweep_stops_the_running_run_and_empties_the_queue(mnist_raw, tmp_path):
    store = ModelStore(pretrained_dir=tmp_path / "none", runs_dir=tmp_path / "runs")
    manager = JobManager(1, data=lambda: mnist_raw, store=store)
    try:
        long = BASE.replace(epochs=200)
        sweep_id = manager.submit_sweep(SweepSpec(long, (grid("seed", "1,2,3"),)), "alice")
        deadline = time.monotonic() + 60
        while manager.sweep(sweep_id).running == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.stop_sweep(sweep_id) == 3
        while not manager.sweep(sweep_id).finished and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.status for r in manager.sweep(sweep_id).runs] == ["stopped"] * 3
        assert manager.sweep(sweep_id).name == "sweep #1"
    finally:
        manager.shutdown()


@pytest.mark.slow
def test_the_sweep_command_writes_a_json_report(mnist_dir, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    rc = main(
        [
            "sweep",
            "--model", "mlp",
            "--epochs", "1",
            "--train-subset", "600",
            "--val-size", "100",
            "--grid", "lr=1e-3,1e-2",
            "--random", "2",
            "--range", "batch_size=16:64",
            "--data-dir", str(mnist_dir),
            "--runs-dir", str(tmp_path / "runs"),
            "--json", str(out),
            "--executor", "process",
            "--parallel", "2",
        ]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr()
    report = json.loads(out.read_text())
    assert report["executor"] == "process" and report["parallel"] == 2  # 2 child processes
    assert report["n_runs"] == 4 and len(report["runs"]) == 4
    assert report["params"] == ["lr", "batch_size"]
    for run in report["runs"]:
        config = TrainConfig.from_dict(run["config"])  # the full config, as a dict
        assert config.epochs == 1 and 16 <= config.batch_size <= 64
        assert run["status"] == "finished" and 0 < run["test_accuracy"] <= 1
        assert run["train_seconds"] > 0
    best = max(report["runs"], key=lambda r: r["test_accuracy"])
    assert report["best"]["test_accuracy"] == best["test_accuracy"]
    printed = capsys.readouterr().out
    assert "[4/4]" in printed and "best:" in printed
    assert "2 at a time in this machine's processes" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "lr=1e-3,50"], "lr=50 is refused"),
        (["--grid", "lr"], "Write each sweep setting as NAME=VALUES"),
        (["--range", "lr=1e-4:1e-1"], "random samples"),
        (["--grid", "colour=red"], "'colour' cannot be swept"),
    ],
)
def test_the_sweep_command_refuses_bad_input_in_one_line(args, message, capsys):
    assert main(["sweep", "--model", "mlp", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
