"""How to run the load test: `LoadOptions`, the command-line options as a function API."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.settings import PACKAGED_PRETRAINED_DIR


@dataclass(frozen=True)
class LoadOptions:
    """How to run the load test (the command-line options, as a function API)."""

    sessions: int = 20
    minutes: float = 10.0
    max_running: int = 1  # a CPU host trains one job at a time (see jobs.default_max_running)
    seed: int = 0
    lease_s: float = 20.0  # short enough that abandoned jobs are reaped within the run
    data_dir: str | None = None  # default: load_mnist's search ($MNIST_DATA_DIR, ...)
    pretrained_dir: str = str(PACKAGED_PRETRAINED_DIR)
    predict_threads: int = 0  # 0: leave torch's default in visitor threads, as the app does
    progress_every_s: float = 30.0  # a progress line on stderr this often (0: none)
    executor: str = "process"  # where jobs train, as MNIST_EXECUTOR (the app's default)
