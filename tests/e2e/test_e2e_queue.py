"""Scenario 7: with one training slot (MNIST_MAX_JOBS=1) a second visitor's run waits in the
queue, shows its position, stays queued while the first run holds the slot, and runs once the
first one has ended.

Deterministic on any machine: the first visitor pauses their run as soon as it trains, and a
paused run keeps its slot, so the first run is held rather than raced (no run length has to
outlast the second visitor's clicks). Earlier versions gave the first run 3, 15, 30 and then
200 epochs to outlast them; the 3-epoch one lost the race once in CI.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT_MS = 240_000
WATCH_QUEUED_S = 6.0  # several refreshes of both pages (Train's live part: every second)


def test_second_visitor_waits_in_the_queue_then_runs(new_st) -> None:
    first, second = new_st("first"), new_st("second")
    first.open("/train")
    second.open("/train")

    # 200 quick-look epochs: minutes even on a fast day, so the run cannot end before the
    # visitor pauses it a moment after it starts.
    first.start_training("LeNet-5", quick=True, run_name="e2e first in line", epochs=200)
    expect(first.job_heading).to_contain_text("Running", timeout=60_000)
    first.button("Pause", within=first.main).click()
    expect(first.job_heading).to_contain_text("Paused")

    second.start_training("MLP", quick=True, run_name="e2e second in line")
    expect(second.job_heading).to_contain_text("Queued")
    queue_note = second.main.get_by_test_id("stAlertContentInfo").filter(
        has_text="Waiting in the queue"
    )
    expect(queue_note).to_contain_text("position 1")
    expect(second.sidebar).to_contain_text("position 1")
    second.shot("queued")
    first.shot("paused")

    # While the first run holds the slot (paused), the second stays queued.
    statuses = []  # (first's status, second's status), each change
    deadline = time.monotonic() + WATCH_QUEUED_S
    while time.monotonic() < deadline:
        now = (first.job_heading.inner_text(), second.job_heading.inner_text())
        if not statuses or statuses[-1] != now:
            statuses.append(now)
        second.page.wait_for_timeout(250)
    assert all("Paused" in f and "Queued" in s for f, s in statuses), statuses

    # The first visitor stops their run: the slot is free and the second run starts.
    first.stop_training()
    expect(first.job_heading).to_contain_text("Stopped")
    expect(second.job_heading).not_to_contain_text("Queued", timeout=60_000)
    second.shot("started")

    expect(second.job_heading).to_contain_text("Finished", timeout=TRAIN_TIMEOUT_MS)
    expect(second.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished with")
    first.assert_no_errors()
    second.assert_no_errors()
    second.shot("finished")
