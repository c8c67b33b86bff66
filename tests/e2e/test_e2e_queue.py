"""Scenario 7: with one training slot (MNIST_MAX_JOBS=1) a second visitor's run waits in the
queue, shows its position, and runs when the first one finishes."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT_MS = 240_000


def test_second_visitor_waits_in_the_queue_then_runs(new_st) -> None:
    first, second = new_st("first"), new_st("second")
    first.open("/")
    second.open("/")

    first.start_training("LeNet-5", quick=True, run_name="e2e first in line")
    expect(first.job_heading).to_contain_text("Running", timeout=60_000)

    second.start_training("MLP", quick=True, run_name="e2e second in line")
    expect(second.job_heading).to_contain_text("Queued")
    queue_note = second.main.get_by_test_id("stAlertContentInfo").filter(
        has_text="Waiting in the queue"
    )
    expect(queue_note).to_contain_text("position 1")
    expect(second.sidebar).to_contain_text("position 1")
    second.shot("queued")
    first.shot("running")

    # The second run starts only once the first has finished.
    statuses = []  # (first's status, second's status), each change
    deadline = time.monotonic() + TRAIN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        now = (first.job_heading.inner_text(), second.job_heading.inner_text())
        if not statuses or statuses[-1] != now:
            statuses.append(now)
        if "Queued" not in now[1]:
            break
        second.page.wait_for_timeout(200)
    second_status = statuses[-1][1]
    assert "Queued" not in second_status, f"still queued: {statuses}"
    assert all("Running" in f or "Finished" in f for f, s in statuses if "Queued" in s), statuses
    expect(first.job_heading).to_contain_text("Finished", timeout=30_000)
    second.shot("started")

    expect(second.job_heading).to_contain_text("Finished", timeout=TRAIN_TIMEOUT_MS)
    expect(second.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished with")
    first.assert_no_errors()
    second.assert_no_errors()
    second.shot("finished")
