"""Whose queued job starts next (`mnist_core.jobs.fairness`), on plain values (issue 26, item 5).
The job manager's use of it, with real runners, is in test_jobs.py."""

from __future__ import annotations

from mnist_core.jobs.fairness import start_order


def _queue(*spec: str) -> list[tuple[str, str]]:
    """ "a1 a2 b1" -> [("a1", "a"), ...]: the owner is the id's letter."""
    return [(job, job[0]) for job in " ".join(spec).split()]


def test_one_visitor_is_first_in_first_out():
    assert start_order(_queue("a1 a2 a3"), {}, set()) == ["a1", "a2", "a3"]


def test_a_run_behind_a_sweep_waits_for_at_most_one_of_its_runs():
    queue = _queue("a2 a3 a4 a5 a6 a7 a8 a9", "b1")
    # a1 trains now: bob, never served, goes first; the sweep's runs follow.
    assert start_order(queue, {"a": 1}, {"a"}) == [
        "b1",
        "a2",
        "a3",
        "a4",
        "a5",
        "a6",
        "a7",
        "a8",
        "a9",
    ]
    # a1 just ended and nothing trains: still bob (served least recently).
    assert start_order(queue, {"a": 1}, set())[0] == "b1"


def test_turns_go_round_three_visitors_least_recently_served_first():
    queue = _queue("a2 a3", "b1 b2", "c1")
    order = start_order(queue, {"a": 5, "b": 2}, {"a"})
    assert order == ["c1", "b1", "a2", "b2", "a3"]


def test_a_visitor_with_a_job_training_goes_after_one_without():
    queue = _queue("a2", "b2")
    # bob was served more recently, but ann has a job training now: bob first.
    assert start_order(queue, {"a": 1, "b": 2}, {"a"}) == ["b2", "a2"]
    assert start_order(queue, {"a": 1, "b": 2}, set()) == ["a2", "b2"]


def test_never_served_visitors_in_the_order_they_queued():
    queue = [("x", "zoe"), ("y", "amy"), ("z", "zoe")]
    assert start_order(queue, {}, set()) == ["x", "y", "z"]
    assert start_order([], {"a": 1}, {"a"}) == []
