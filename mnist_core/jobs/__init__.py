"""Background training jobs: the job manager, the runner of one job, and job snapshots.

snapshot.py      JobSnapshot, the statuses, JobState (the pure fold of a job's events)
runner.py        TrainingRunner: one run of `fit` in a daemon thread
housekeeping.py  leases and history trimming over the manager's job table
sweeps.py        SweepRecord, SweepSnapshot: a sweep's jobs and progress
manager.py       JobManager: the queue, the slots and the scheduler thread
"""

from mnist_core.jobs.manager import (
    MAX_JOBS_ENV,
    JobError,
    JobManager,
    JobNotFound,
    default_max_running,
)
from mnist_core.jobs.runner import TrainingRunner
from mnist_core.jobs.snapshot import ACTIVE_STATUSES, DONE_STATUSES, JobSnapshot, JobStatus
from mnist_core.jobs.sweeps import SweepRun, SweepSnapshot

__all__ = [
    "ACTIVE_STATUSES",
    "DONE_STATUSES",
    "MAX_JOBS_ENV",
    "JobError",
    "JobManager",
    "JobNotFound",
    "JobSnapshot",
    "JobStatus",
    "SweepRun",
    "SweepSnapshot",
    "TrainingRunner",
    "default_max_running",
]
