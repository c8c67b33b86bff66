"""Settings from the environment: every ``MNIST_*`` variable, its default and its meaning.

This is the only module that reads ``MNIST_*`` variables; everything else asks `settings()`
(or takes the values as arguments). An empty or blank variable counts as not set.

    MNIST_DATA_DIR         folder holding the four MNIST files, searched after a --data-dir
                           argument and before ./data/MNIST/raw; also where downloads go.
                           Default: not set (downloads go to ./data/MNIST/raw).
    MNIST_RUNS_DIR         where models trained in the app and uploaded models are written.
                           Default: ./runs, relative to the current folder (the app's folder
                           when started with `streamlit run app.py` from the repository).
    MNIST_CHECKPOINTS_DIR  folder of the pretrained checkpoints (read-only) that the app lists.
                           Default: the shipped ones (checkpoints/, installed with the package).
    MNIST_MAX_JOBS         training jobs run at once by a job manager; the others queue.
                           Default: not set (2 with a CUDA GPU, 1 on a CPU; on Ray, one
                           per CPU of the cluster).
    MNIST_MAX_QUEUED       runs one visitor may have waiting in the queue (a sweep's runs count
                           one each); beyond it a new run is refused with a message.
                           Default: 64 (the largest sweep).
    MNIST_EXECUTOR         where the app's jobs train: process (warm child processes of this
                           machine), thread (threads of the app's process), ray, or auto.
                           Default: auto: process, or thread in a container with under 2 GiB
                           of memory (mnist_core.machine.small_container); ray when
                           MNIST_RAY_ADDRESS is set.
    MNIST_RAY_ADDRESS      the Ray cluster for the ray executor: auto (one running on this
                           machine), ray://host:10001 (a remote one), or local (start one in
                           the app). Default: not set (local, when MNIST_EXECUTOR=ray).
    MNIST_TIMELINE_MAX_MB  the most megabytes of snapshots one run keeps for its training
                           timeline (mnist_core.train.timeline), in memory while it trains and on
                           disk beside its checkpoint; a model whose 16 snapshots would not fit
                           keeps fewer steps, and 0 keeps none. Default: 16 (the default MLP's
                           16 snapshots are 14.0 MB).

`settings()` parses the environment once and returns the same frozen `Settings` for as long as
these variables keep their values; when one changes (a test's monkeypatch, a launcher setting
it before the app starts) the next call parses again, so nobody needs to reload anything.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mnist_core.errors import ConfigError

__all__ = [
    "CHECKPOINTS_DIR_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_DATA_DIR",
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_RUNS_DIR",
    "DEFAULT_TIMELINE_MAX_MB",
    "EXECUTOR_ENV",
    "EXECUTOR_KINDS",
    "MAX_JOBS_ENV",
    "MAX_QUEUED_ENV",
    "PACKAGED_PRETRAINED_DIR",
    "RAY_ADDRESS_ENV",
    "RUNS_DIR_ENV",
    "TIMELINE_MAX_MB_ENV",
    "VARIABLES",
    "Settings",
    "load_settings",
    "settings",
]

DATA_DIR_ENV = "MNIST_DATA_DIR"
RUNS_DIR_ENV = "MNIST_RUNS_DIR"
CHECKPOINTS_DIR_ENV = "MNIST_CHECKPOINTS_DIR"
MAX_JOBS_ENV = "MNIST_MAX_JOBS"
MAX_QUEUED_ENV = "MNIST_MAX_QUEUED"
DEFAULT_MAX_QUEUED = 64  # per visitor: room for the largest sweep (64 runs) and nothing else
EXECUTOR_ENV = "MNIST_EXECUTOR"
RAY_ADDRESS_ENV = "MNIST_RAY_ADDRESS"
EXECUTOR_KINDS = ("auto", "process", "thread", "ray")
TIMELINE_MAX_MB_ENV = "MNIST_TIMELINE_MAX_MB"
# 16 snapshots of the default MLP (218,058 float32 parameters, 0.87 MB each) are 14.0 MB: every
# shipped architecture keeps its whole timeline; a wider MLP keeps fewer steps.
DEFAULT_TIMELINE_MAX_MB = 16.0

# Relative paths are relative to the current folder when used, like the app's own downloads.
DEFAULT_DATA_DIR = Path("data/MNIST/raw")
DEFAULT_RUNS_DIR = Path("runs")
# The pretrained checkpoints: `checkpoints/` at the repository's top level in a checkout (or an
# editable install); a regular `pip install .` ships that folder as package data at
# `mnist_core/pretrained/` (pyproject's package-dir), so an installed engine finds its models
# from any folder.
_INSTALLED_PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
PACKAGED_PRETRAINED_DIR = (
    _INSTALLED_PRETRAINED_DIR
    if _INSTALLED_PRETRAINED_DIR.is_dir()
    else Path(__file__).resolve().parents[1] / "checkpoints"
)

# name -> (default as a person reads it, meaning); the README's table says the same.
VARIABLES: dict[str, tuple[str, str]] = {
    DATA_DIR_ENV: (
        "not set",
        "folder holding the four MNIST files, searched after --data-dir and before "
        f"./{DEFAULT_DATA_DIR}; downloads go there too (else to ./{DEFAULT_DATA_DIR})",
    ),
    RUNS_DIR_ENV: (
        f"./{DEFAULT_RUNS_DIR}",
        "where models trained in the app and uploaded models are written "
        "(relative to the current folder)",
    ),
    CHECKPOINTS_DIR_ENV: (
        "checkpoints/",
        "folder of the read-only pretrained checkpoints (default: the shipped ones, installed "
        "with the package)",
    ),
    MAX_JOBS_ENV: (
        "not set",
        "training jobs run at once, a whole number of at least 1; the others queue "
        "(not set: 2 with a CUDA GPU, 1 on a CPU; on Ray, one per CPU of the cluster)",
    ),
    MAX_QUEUED_ENV: (
        str(DEFAULT_MAX_QUEUED),
        "runs one visitor may have waiting in the queue, a whole number of at least 1 (a "
        "sweep's runs count one each); beyond it a new run is refused with a message",
    ),
    EXECUTOR_ENV: (
        "auto",
        "where the app's jobs train: process (warm child processes of this machine), thread "
        "(threads of the app's own process), ray (a Ray cluster), or auto: process, or thread "
        "in a container with under 2 GiB of memory (one copy of torch, not two); ray when "
        "MNIST_RAY_ADDRESS is set",
    ),
    RAY_ADDRESS_ENV: (
        "not set",
        "the Ray cluster: auto (running on this machine), ray://host:10001 (remote) or local "
        "(started inside the app)",
    ),
    TIMELINE_MAX_MB_ENV: (
        f"{DEFAULT_TIMELINE_MAX_MB:g}",
        "the most megabytes of weight snapshots one run keeps for its training timeline (in "
        "memory while it trains, on disk beside its checkpoint), a number of at least 0; a "
        "model whose 16 snapshots would not fit keeps fewer steps, and 0 keeps no timeline",
    ),
}


@dataclass(frozen=True)
class Settings:
    """The engine's and the app's settings. Build it with `load_settings` or `settings()`."""

    data_dir: Path | None = None  # $MNIST_DATA_DIR; None: not set
    runs_dir: Path = DEFAULT_RUNS_DIR  # $MNIST_RUNS_DIR
    pretrained_dir: Path = PACKAGED_PRETRAINED_DIR  # $MNIST_CHECKPOINTS_DIR
    max_jobs: int | None = None  # $MNIST_MAX_JOBS; None: the job manager picks (GPU 2, CPU 1)
    max_queued: int = DEFAULT_MAX_QUEUED  # $MNIST_MAX_QUEUED, per visitor
    executor: str = "auto"  # $MNIST_EXECUTOR
    ray_address: str | None = None  # $MNIST_RAY_ADDRESS
    timeline_max_mb: float = DEFAULT_TIMELINE_MAX_MB  # $MNIST_TIMELINE_MAX_MB; 0: no timelines

    def __post_init__(self) -> None:
        if self.executor not in EXECUTOR_KINDS:
            raise ConfigError(
                f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTOR_KINDS)}, got "
                f"{self.executor!r}. Unset it to let the app choose (auto)."
            )
        if self.max_jobs is not None and (
            isinstance(self.max_jobs, bool) or not isinstance(self.max_jobs, int)
        ):
            raise ConfigError(f"max_jobs must be a whole number, got {self.max_jobs!r}.")
        if self.max_jobs is not None and self.max_jobs < 1:
            raise ConfigError(f"max_jobs must be at least 1, got {self.max_jobs}.")
        if isinstance(self.max_queued, bool) or not isinstance(self.max_queued, int):
            raise ConfigError(f"max_queued must be a whole number, got {self.max_queued!r}.")
        if self.max_queued < 1:
            raise ConfigError(f"max_queued must be at least 1, got {self.max_queued}.")
        mb = self.timeline_max_mb
        if isinstance(mb, bool) or not isinstance(mb, int | float) or not 0 <= mb < float("inf"):
            raise ConfigError(f"timeline_max_mb must be a number of at least 0, got {mb!r}.")

    @property
    def timeline_max_bytes(self) -> int:
        """The timeline cap in bytes (MB are 10^6 bytes, as every size the app shows)."""
        return int(self.timeline_max_mb * 1e6)


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = _text(environ, name)
    return Path(value).expanduser() if value is not None else None


def _whole_number(environ: Mapping[str, str], name: str, unset: str) -> int | None:
    """A whole number of at least 1, None when not set; `unset` says what not setting does."""
    value = _text(environ, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(
            f"{name} must be a whole number of at least 1, got {value!r}. "
            f"Set it to e.g. 1, or unset it {unset}."
        )
    return number


def _megabytes(environ: Mapping[str, str], name: str, default: float) -> float:
    """A size in MB, a number of at least 0; `default` when not set."""
    value = _text(environ, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ConfigError(
            f"{name} must be a number of megabytes, at least 0 (0: no timelines), got "
            f"{value!r}. Set it to e.g. 16, or unset it for the default ({default:g})."
        )
    return number


def _executor(environ: Mapping[str, str]) -> tuple[str, str | None]:
    address = _text(environ, RAY_ADDRESS_ENV)
    kind = (_text(environ, EXECUTOR_ENV) or ("ray" if address else "auto")).lower()
    if kind == "ray" and address is None:
        address = "local"
    if address is not None and not (
        address in ("auto", "local") or address.startswith("ray://") or ":" in address
    ):
        raise ConfigError(
            f"{RAY_ADDRESS_ENV} must be auto, local, ray://host:port or host:port, got {address!r}."
        )
    return kind, address


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the ``MNIST_*`` variables of `environ` (default: ``os.environ``) into `Settings`.

    Raises ConfigError, naming the variable and what to set it to, for a value that cannot be
    used (e.g. ``MNIST_MAX_JOBS=abc``). Paths are not checked for existence here: the code
    that uses a folder says what is wrong with it.
    """
    env = os.environ if environ is None else environ
    executor, ray_address = _executor(env)
    return Settings(
        executor=executor,
        ray_address=ray_address,
        data_dir=_path(env, DATA_DIR_ENV),
        runs_dir=_path(env, RUNS_DIR_ENV) or DEFAULT_RUNS_DIR,
        pretrained_dir=_path(env, CHECKPOINTS_DIR_ENV) or PACKAGED_PRETRAINED_DIR,
        max_jobs=_whole_number(
            env, MAX_JOBS_ENV, "to let the app choose (2 with a CUDA GPU, 1 on a CPU)"
        ),
        max_queued=_whole_number(env, MAX_QUEUED_ENV, f"for the default ({DEFAULT_MAX_QUEUED})")
        or DEFAULT_MAX_QUEUED,
        timeline_max_mb=_megabytes(env, TIMELINE_MAX_MB_ENV, DEFAULT_TIMELINE_MAX_MB),
    )


@functools.lru_cache(maxsize=4)
def _parsed(values: tuple[str | None, ...]) -> Settings:
    pairs = zip(VARIABLES, values, strict=True)
    return load_settings({name: value for name, value in pairs if value is not None})


def settings() -> Settings:
    """The current settings: parsed once per distinct set of ``MNIST_*`` values.

    Raises ConfigError for an unusable value (see `load_settings`).
    """
    return _parsed(tuple(os.environ.get(name) for name in VARIABLES))
