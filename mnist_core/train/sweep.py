"""Hyperparameter sweeps: up to MAX_PARAMS settings varied over a grid or random samples.

A `SweepSpec` expands into plain `TrainConfig`s, one per run; the job manager trains them
like any other job (`JobManager.submit_sweep`). Every value is checked when the spec is
built, so a bad one is refused with the value named before any run starts:

    grid:   lr=1e-3,3e-3,1e-2   batch_size=64,128       -> 3 x 2 = 6 runs
    random: lr=1e-4:1e-1:log    momentum=0.8:0.99  (N samples; log-uniform where ":log")

Grid values and random samples combine: each random sample is trained at every grid point.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from mnist_core.errors import ConfigError
from mnist_core.train.config import TrainConfig, field_info, parse_value

__all__ = [
    "MAX_PARAMS",
    "MAX_RUNS",
    "SweepParam",
    "SweepSpec",
    "format_value",
    "sweepable_fields",
]

MAX_RUNS = 64  # a sweep at most: 64 LeNet-5 epochs take about 10 minutes on a 2-core CPU
MAX_PARAMS = 3  # more than 3 axes is not readable on a parallel-coordinates chart either
# Settings a sweep may not vary: the architecture is the sweep's own, and these change
# where or how fast a run trains, not what it learns.
_FIXED = frozenset({"model", "model_kwargs", "device", "threads", "compile", "log_every"})


def sweepable_fields() -> list[str]:
    """The TrainConfig fields a sweep may vary, in the dataclass's order."""
    return [f.name for f in fields(TrainConfig) if f.name not in _FIXED]


def format_value(value: Any) -> str:
    """A swept value as run names and tables show it: 0.003, 64, adamw, true."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class SweepParam:
    """One swept setting: a list of `values` (grid) or a range `lo`..`hi` (random samples,
    log-uniform when `log`). Built from text with `grid(...)` or `range(...)`."""

    name: str
    values: tuple[Any, ...] = ()
    lo: float | None = None
    hi: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if self.name not in sweepable_fields():
            raise ConfigError(
                f"{self.name!r} cannot be swept. Sweepable settings: "
                f"{', '.join(sweepable_fields())}."
            )
        if self.is_range:
            self._check_range()
        elif not self.values:
            raise ConfigError(f"Give {self.name} at least one value.")
        elif len(set(map(repr, self.values))) != len(self.values):
            raise ConfigError(f"{self.name} lists a value twice: {self.text}.")

    @property
    def is_range(self) -> bool:
        return self.lo is not None or self.hi is not None

    @property
    def text(self) -> str:
        """As typed on the command line: "lr=1e-3,3e-3" or "lr=1e-4:0.1:log"."""
        if self.is_range:
            return f"{self.name}={self.lo:g}:{self.hi:g}" + (":log" if self.log else "")
        return f"{self.name}=" + ",".join(format_value(v) for v in self.values)

    @classmethod
    def grid(cls, name: str, values: str | Sequence[str]) -> SweepParam:
        """`values` as text ("1e-3, 3e-3" or a list of strings), each parsed as the setting's
        type; ConfigError naming the value that does not parse or is out of range."""
        name = name.strip()
        parts = values.split(",") if isinstance(values, str) else list(values)
        parts = [p.strip() for p in parts if p.strip()]
        _known(name)
        parsed = tuple(_parse_checked(name, p) for p in parts)
        return cls(name, values=parsed)

    @classmethod
    def range(cls, name: str, text: str) -> SweepParam:
        """`text` "LO:HI" or "LO:HI:log" (a numeric setting)."""
        name = name.strip()
        _known(name)
        parts = [p.strip() for p in text.split(":")]
        log = len(parts) == 3 and parts[2].lower() == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise ConfigError(
                f"The range for {name} must be LO:HI or LO:HI:log, e.g. {name}=1e-4:0.1:log; "
                f"got {text!r}."
            )
        lo, hi = (float(_parse_checked(name, p)) for p in parts[:2])
        return cls(name, lo=lo, hi=hi, log=log)

    def _check_range(self) -> None:
        f = field_info(self.name)
        if f.metadata.get("min") is None or isinstance(f.default, bool):
            raise ConfigError(
                f"{self.name} is not a number: give it a list of values, not a range."
            )
        if self.lo is None or self.hi is None or not self.lo < self.hi:
            raise ConfigError(
                f"The range for {self.name} needs LO < HI; got {self.lo!r}:{self.hi!r}."
            )
        if self.log and self.lo <= 0:
            raise ConfigError(f"A log range for {self.name} needs LO above 0; got {self.lo:g}.")

    def sample(self, rng: random.Random) -> Any:
        """One random value of the range (uniform, or log-uniform), of the setting's type."""
        assert self.lo is not None and self.hi is not None
        if self.log:
            value = math.exp(rng.uniform(math.log(self.lo), math.log(self.hi)))
        else:
            value = rng.uniform(self.lo, self.hi)
        if _is_int(self.name):
            return min(int(self.hi), max(math.ceil(self.lo), round(value)))
        return float(f"{value:.4g}")  # 4 significant digits: names and tables stay readable


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: `base` settings, `params` varied (grid lists and ranges), `samples` random
    draws of the ranges (required when there are ranges, else 0), `seed` for the draws.

    `configs()` gives the runs' TrainConfigs; construction refuses more than MAX_RUNS runs,
    more than MAX_PARAMS settings, a setting swept twice, and any run whose settings
    TrainConfig refuses (the value named).
    """

    base: TrainConfig
    params: tuple[SweepParam, ...]
    samples: int = 0
    seed: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        if not self.params:
            raise ConfigError("A sweep needs at least one setting to vary.")
        if len(self.params) > MAX_PARAMS:
            raise ConfigError(
                f"A sweep varies at most {MAX_PARAMS} settings; got {len(self.params)}."
            )
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(f"{', '.join(twice)} is swept twice: give it once.")
        ranges = [p for p in self.params if p.is_range]
        if ranges and self.samples < 1:
            raise ConfigError(
                f"{ranges[0].text} is a range: say how many random samples to draw "
                "(e.g. --random 8)."
            )
        if not ranges and self.samples:
            raise ConfigError(
                "Random samples need at least one range (NAME=LO:HI), not only lists."
            )
        if self.n_runs > MAX_RUNS:
            raise ConfigError(
                f"This sweep has {self.n_runs} runs; at most {MAX_RUNS} are allowed. "
                "Give fewer values or samples."
            )
        for overrides in self.overrides():
            _check_run(self.base, overrides)

    @property
    def n_runs(self) -> int:
        grid = math.prod(len(p.values) for p in self.params if not p.is_range)
        return grid * (self.samples if any(p.is_range for p in self.params) else 1)

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def overrides(self) -> list[dict[str, Any]]:
        """Each run's swept values, {name: value}, in a fixed order (grid in the order given,
        the random samples drawn with `seed`)."""
        grid = [p for p in self.params if not p.is_range]
        ranges = [p for p in self.params if p.is_range]
        rng = random.Random(self.seed)
        draws = [{p.name: p.sample(rng) for p in ranges} for _ in range(self.samples)] or [{}]
        points = [
            dict(zip([p.name for p in grid], combo, strict=True))
            for combo in itertools.product(*(p.values for p in grid))
        ]
        by_name = {p.name: i for i, p in enumerate(self.params)}
        runs = [{**point, **draw} for draw in draws for point in points]
        return [dict(sorted(r.items(), key=lambda kv: by_name[kv[0]])) for r in runs]

    def configs(self) -> list[TrainConfig]:
        """One TrainConfig per run: `base` with that run's swept values."""
        return [self.base.replace(**o) for o in self.overrides()]

    def run_label(self, overrides: Mapping[str, Any]) -> str:
        """A run's name in its sweep: "lr=0.003 batch_size=64"."""
        return " ".join(f"{k}={format_value(v)}" for k, v in overrides.items())


def _known(name: str) -> None:
    if name not in sweepable_fields():
        raise ConfigError(
            f"{name!r} cannot be swept. Sweepable settings: {', '.join(sweepable_fields())}."
        )


def _is_int(name: str) -> bool:
    f = field_info(name)
    return (isinstance(f.default, int) and not isinstance(f.default, bool)) or (
        name == "train_subset"
    )


def _parse_checked(name: str, text: str) -> Any:
    """`text` parsed as setting `name` and inside its range or choices; ConfigError naming
    the value. (Checks that depend on the other settings come with `_check_run`.)"""
    try:
        value = parse_value(name, text)
    except ConfigError as e:  # "lr: cannot read ..." -> "lr=x is refused: cannot read ..."
        said = _sentence(e).removeprefix(f"{name}: ")
        raise ConfigError(f"{name}={text} is refused: {said}") from None
    meta = field_info(name).metadata
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{name}={text} is refused: choose one of {', '.join(choices)}.")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if lo is not None and number and not lo <= value <= hi:
        raise ConfigError(f"{name}={text} is refused: it must be between {lo:g} and {hi:g}.")
    return value


def _check_run(base: TrainConfig, overrides: Mapping[str, Any]) -> None:
    try:
        base.replace(**overrides)
    except ConfigError as e:
        shown = " ".join(f"{k}={format_value(v)}" for k, v in overrides.items())
        raise ConfigError(f"The run {shown} is refused: {_sentence(e)}") from None


def _sentence(e: Exception) -> str:
    text = str(e).strip()
    return text[0].lower() + text[1:] if text else type(e).__name__
