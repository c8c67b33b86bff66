"""`python -m bench e2e-loop`'s reading of a pytest JUnit report (bench/e2e_loop.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.e2e_loop import read_junit

# A report as pytest writes it: one pass, one failure with its traceback, one fixture error.
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="0" tests="3">
<testcase classname="tests.e2e.test_e2e_draw" name="test_ok" time="1.0"/>
<testcase classname="tests.e2e.test_e2e_sweep" name="test_rows" time="40.2">
<failure message="playwright._impl._errors.TimeoutError: Timeout 30000ms exceeded.">
st = &lt;conftest.StApp object&gt;
    def test_rows(st) -&gt; None:
        st.open("/")
tests/e2e/test_e2e_sweep.py:82:
tests/e2e/test_e2e_sweep.py:28: in _select_rows
    st.after_rerun(click)
tests/e2e/conftest.py:268: in after_rerun
    pytest.fail(...)
E   Failed: the browser sent no rerun request within 30 s of the action
</failure></testcase>
<testcase classname="tests.e2e.test_e2e_queue" name="test_queue[first]" time="0.1">
<error message="failed on setup with &quot;Chromium not found&quot;">no traceback lines</error>
</testcase>
</testsuite></testsuites>
"""


def test_a_report_gives_each_failure_with_where_and_why(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    tests, skipped, failures = read_junit(report)
    assert (tests, skipped, len(failures)) == (3, 0, 2)
    rows, setup = failures
    assert rows.test == "tests/e2e/test_e2e_sweep.py::test_rows"
    assert rows.kind == "failure"
    assert rows.message.splitlines() == [
        "tests/e2e/test_e2e_sweep.py:82:",
        "tests/e2e/test_e2e_sweep.py:28: in _select_rows",
        "tests/e2e/conftest.py:268: in after_rerun",
        "Failed: the browser sent no rerun request within 30 s of the action",
    ]
    # no traceback lines: the report's own message
    assert setup.test == "tests/e2e/test_e2e_queue.py::test_queue[first]"
    assert (setup.kind, setup.message) == ("error", 'failed on setup with "Chromium not found"')


def test_a_bad_run_count_is_refused_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "e2e-loop", "--runs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --runs must be at least 1."
