"""Run the browser suite again and again, and report every failure with what it left behind.

    python -m bench e2e-loop [--runs 10] [--out artifacts/e2e-loop] [--stop-on-failure]
                             [-- PYTEST_ARGS...]

A flaky browser test fails CI at random; run in a loop, the next flake is caught the day it
appears. Each run is `python -m pytest tests/e2e` (in the order CI runs it, or what follows
`--`, e.g. `-- tests/e2e/test_e2e_draw.py -k toggle`) in a process of its own, with a JUnit
report. After each run, its failures (test, error's first lines) are printed and the
screenshots and server logs the suite keeps (artifacts/e2e/) are copied to OUT/run-K/, since
the next run starts by emptying that folder. The summary lists every failure of every run;
the exit status is 0 only when every run passed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from mnist_core.errors import MnistError

DESCRIPTION = "run the browser suite N times; report each failure with its screenshots"

REPO = Path(__file__).resolve().parents[1]
SUITE_ARTIFACTS = REPO / "artifacts" / "e2e"  # where tests/e2e keeps screenshots and logs
ERROR_LINES = 6  # of each failure's message, in the report


@dataclass(frozen=True)
class Failure:
    test: str  # the pytest node id, e.g. tests/e2e/test_e2e_draw.py::test_x
    kind: str  # "failure" (an assertion or timeout) or "error" (a fixture)
    message: str  # the first ERROR_LINES lines of what pytest reported


@dataclass(frozen=True)
class RunResult:
    number: int
    seconds: float
    exit_code: int
    tests: int
    failures: tuple[Failure, ...]
    skipped: int
    kept: Path  # the copied artifacts of this run

    @property
    def passed(self) -> int:
        return self.tests - len(self.failures) - self.skipped


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench e2e-loop`."""
    p.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    p.add_argument(
        "--out",
        type=Path,
        default=REPO / "artifacts" / "e2e-loop",
        help="where each run's report, screenshots and logs go (default artifacts/e2e-loop)",
    )
    p.add_argument(
        "--stop-on-failure", action="store_true", help="stop after the first run that fails"
    )
    p.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        help="after --: what pytest runs instead of tests/e2e (paths, -k, -x...)",
    )


def _node_id(case: ET.Element) -> str:
    """pytest's node id from a JUnit testcase (classname 'tests.e2e.test_x', name 'test_y')."""
    classname, name = case.get("classname", ""), case.get("name", "")
    parts = classname.split(".")
    # the module is the first part that starts with "test_"; what follows it is a class
    for i, part in enumerate(parts):
        if part.startswith("test_"):
            module = "/".join(parts[: i + 1]) + ".py"
            return "::".join([module, *parts[i + 1 :], name])
    return f"{classname}::{name}"


def _summary(report: ET.Element) -> str:
    """What a failure says, shortly: where it failed (the `file:line: in` lines of pytest's
    traceback: the test, then the helpers it called) and pytest's `E` lines (the error)."""
    text = report.text or ""
    where = [ln.strip() for ln in text.splitlines() if ln.startswith(("tests/", "bench/"))]
    error = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    lines = where[-3:] + error[:ERROR_LINES]
    return "\n".join(lines) or (report.get("message") or "").strip()


def read_junit(path: Path) -> tuple[int, int, tuple[Failure, ...]]:
    """(tests, skipped, failures) of a pytest JUnit report."""
    root = ET.parse(path).getroot()
    tests = skipped = 0
    failures: list[Failure] = []
    for case in root.iter("testcase"):
        tests += 1
        for child in case:
            if child.tag == "skipped":
                skipped += 1
            elif child.tag in ("failure", "error"):
                failures.append(Failure(_node_id(case), child.tag, _summary(child)))
    return tests, skipped, tuple(failures)


def _keep_artifacts(dest: Path) -> None:
    """Copy what the suite left in artifacts/e2e (screenshots, server logs) to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if SUITE_ARTIFACTS.is_dir():
        for f in SUITE_ARTIFACTS.iterdir():
            if f.is_file():
                shutil.copy2(f, dest / f.name)


def run_once(number: int, out: Path, pytest_args: list[str]) -> RunResult:
    """One run of the suite in its own process; its report and artifacts under out/run-K."""
    kept = out / f"run-{number}"
    if kept.exists():
        shutil.rmtree(kept)
    kept.mkdir(parents=True)
    report = kept / "junit.xml"
    cmd = [
        sys.executable, "-m", "pytest", *(pytest_args or ["tests/e2e"]),
        "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
    ]  # fmt: skip
    t0 = time.monotonic()
    with (kept / "pytest.log").open("w") as log:
        code = subprocess.call(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - t0
    _keep_artifacts(kept)
    if not report.exists():  # pytest did not get as far as running tests
        tail = (kept / "pytest.log").read_text(errors="replace").splitlines()[-ERROR_LINES:]
        failure = Failure("(the run itself)", "error", "\n".join(tail))
        return RunResult(number, seconds, code, 0, (failure,), 0, kept)
    tests, skipped, failures = read_junit(report)
    if code != 0 and not failures:  # e.g. no tests collected, an internal error
        failures = (Failure("(the run itself)", "error", f"pytest exited with code {code}"),)
    return RunResult(number, seconds, code, tests, failures, skipped, kept)


def _screenshots(result: RunResult, failure: Failure) -> list[Path]:
    """The screenshots that the failed test took (its name starts their file names)."""
    test_name = failure.test.rsplit("::", 1)[-1]
    slug = "".join(c if c.isalnum() or c in "_.-" else "_" for c in test_name)
    return sorted(p for p in result.kept.glob("*.png") if p.name.startswith(slug[:100]))


def _print_failure(result: RunResult, failure: Failure) -> None:
    print(f"  FAILED {failure.test} ({failure.kind})")
    for line in failure.message.splitlines():
        print(f"      {line[:300]}")
    for shot in _screenshots(result, failure):
        print(f"      screenshot: {shot}")


def run(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise MnistError("--runs must be at least 1.")
    pytest_args = [a for a in args.pytest_args if a != "--"]
    out: Path = args.out.resolve()
    results: list[RunResult] = []
    for number in range(1, args.runs + 1):
        result = run_once(number, out, pytest_args)
        results.append(result)
        # a skip is no pass: the suite never skips, so one means a test did not really run
        clean = not result.failures and not result.skipped and result.exit_code == 0
        verdict = "PASS" if clean else "FAIL"
        skipped = f", {result.skipped} skipped" if result.skipped else ""
        print(
            f"run {number}/{args.runs}: {verdict}: {result.passed} passed, "
            f"{len(result.failures)} failed{skipped} in {result.seconds:.0f} s "
            f"({result.kept})",
            flush=True,
        )
        for failure in result.failures:
            _print_failure(result, failure)
        if verdict == "FAIL" and args.stop_on_failure:
            break
    failed = [r for r in results if r.failures or r.skipped or r.exit_code != 0]
    print()
    print(
        f"{len(results) - len(failed)} of {len(results)} runs passed; "
        f"{sum(len(r.failures) for r in results)} failures in all; "
        f"{sum(r.seconds for r in results) / len(results):.0f} s a run on average."
    )
    for result in failed:
        print(f"run {result.number}:")
        for failure in result.failures:
            _print_failure(result, failure)
    return 1 if failed else 0
