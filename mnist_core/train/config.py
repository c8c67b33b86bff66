"""Training configuration: one frozen dataclass, validated on construction.

Every field carries metadata (help text, allowed choices or range) so the command line, the
URL query parameters and the sidebar widgets are all generated from, and checked against,
this one definition.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mnist_core.errors import ConfigError, ModelError
from mnist_core.models import create_model, get_spec, list_models

MNIST_TRAIN_SIZE = 60_000

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "linear", "plateau", "step", "constant")
LOSSES = ("cross_entropy", "mse")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _f(
    default: Any,
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with the metadata the CLI and UI use to build and check inputs."""
    meta = {"help": help, "min": lo, "max": hi, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Build with `TrainConfig.for_model(name)` to get
    that architecture's tuned recipe, then override what you like."""

    model: str = _f("lenet5", "architecture", choices=None)
    model_kwargs: Mapping[str, Any] = _f({}, "architecture options, e.g. hidden sizes")
    epochs: int = _f(8, "passes over the training set", lo=1, hi=200)
    batch_size: int = _f(128, "images per optimisation step", lo=1, hi=8192)
    optimizer: str = _f("adamw", "optimisation algorithm", choices=OPTIMIZERS)
    lr: float = _f(3e-3, "peak learning rate", lo=1e-6, hi=10.0)
    momentum: float = _f(0.9, "SGD momentum (sgd only)", lo=0.0, hi=0.999)
    weight_decay: float = _f(5e-4, "L2 / decoupled weight decay", lo=0.0, hi=1.0)
    schedule: str = _f("onecycle", "learning-rate schedule", choices=SCHEDULES)
    loss: str = _f("cross_entropy", "loss function (mse: on one-hot targets)", choices=LOSSES)
    label_smoothing: float = _f(0.0, "cross-entropy label smoothing", lo=0.0, hi=0.5)
    aug_rotation: float = _f(0.0, "augmentation: max rotation in degrees", lo=0.0, hi=45.0)
    aug_translate: float = _f(0.0, "augmentation: max shift, fraction of size", lo=0.0, hi=0.3)
    aug_scale: float = _f(0.0, "augmentation: max zoom in or out, fraction", lo=0.0, hi=0.3)
    aug_stroke: float = _f(
        0.0,
        "augmentation: stroke width change in 3x3 dilation steps (thinner by up to half)",
        lo=0.0,
        hi=2.0,
    )
    aug_elastic: float = _f(
        0.0, "augmentation: elastic distortion strength alpha, px (Simard: 34)", lo=0.0, hi=60.0
    )
    synthetic: int = _f(
        0,
        "stroke-drawn digits (hand-made templates, the canvas's pen) added to the training set",
        lo=0,
        hi=20_000,
    )
    train_subset: int | None = _f(None, "train on only this many images", lo=10, hi=55_000)
    val_size: int = _f(5000, "images held out of training for validation", lo=0, hi=20_000)
    seed: int = _f(0, "random seed (split, init, shuffling, augmentation)", lo=0, hi=2**31 - 1)
    device: str = _f("auto", "where to train", choices=DEVICES)
    threads: int = _f(0, "CPU threads for this run (0: all)", lo=0, hi=256)
    eval_test: bool = _f(True, "measure test accuracy after every epoch")
    eval_every: int = _f(
        0,
        "also measure test accuracy every this many steps (0: at epoch ends only)",
        lo=0,
        hi=100_000,
    )
    log_every: int = _f(10, "steps between loss points", lo=1, hi=10_000)
    compile: bool = _f(False, "torch.compile the model (CUDA only)")
    channels_last: bool = _f(False, "channels-last memory layout on the CPU (always on CUDA)")

    def __post_init__(self) -> None:
        if self.model not in list_models():
            raise ConfigError(
                f"Unknown model {self.model!r}. Choose one of: {', '.join(list_models())}."
            )
        # Normalise kwargs: lists from JSON/CLI become tuples, so the config stays hashable-ish
        # and round-trips through checkpoints (torch.load(weights_only=True) keeps tuples).
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in self.model_kwargs.items()}
        object.__setattr__(self, "model_kwargs", kwargs)
        for f in fields(self):
            self._check_field(f, getattr(self, f.name))
        if self.train_size < 1:
            raise ConfigError("The training set is empty: lower val_size.")
        if self.batch_size > self.train_size:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than the training set "
                f"({self.train_size} images): lower batch_size or raise train_subset."
            )
        if self.train_subset is not None and self.train_subset > MNIST_TRAIN_SIZE - self.val_size:
            left = MNIST_TRAIN_SIZE - self.val_size
            raise ConfigError(
                f"train_subset {self.train_subset} is more than the {left} images left after "
                f"holding out val_size={self.val_size}."
            )
        try:  # catch bad architecture options now, not minutes later in a thread
            create_model(self.model, **kwargs)
        except ModelError as e:
            raise ConfigError(str(e)) from None

    def _check_field(self, f: dataclasses.Field, value: Any) -> None:
        lo, hi, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
        if isinstance(f.default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{f.name} must be true or false, got {value!r}")
            return
        if choices is not None and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(choices)}; got {value!r}.")
        if lo is None or value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{f.name} must be a number, got {value!r}")
        if (isinstance(f.default, int) or f.name == "train_subset") and not isinstance(value, int):
            raise ConfigError(f"{f.name} must be a whole number, got {value!r}")
        if not math.isfinite(value) or not lo <= value <= hi:
            what = "learning rate" if f.name == "lr" else f.name
            raise ConfigError(f"{what} must be between {lo:g} and {hi:g}; got {value!r}.")

    # ---- derived values -------------------------------------------------------------------
    @property
    def train_size(self) -> int:
        """Images the model trains on per epoch (MNIST's and the synthetic ones)."""
        mnist = self.train_subset if self.train_subset else MNIST_TRAIN_SIZE - self.val_size
        return mnist + self.synthetic

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_size / self.batch_size)

    @property
    def checks_per_epoch(self) -> int:
        """Test checks inside each epoch (`eval_every`; none at the epoch's end, which
        evaluates anyway)."""
        return (self.steps_per_epoch - 1) // self.eval_every if self.eval_every else 0

    def eval_images_per_epoch(self, n_val: int, n_test: int) -> int:
        """Images evaluated in each epoch: validation, the end-of-epoch test, the checks."""
        return n_val + n_test * (self.checks_per_epoch + (1 if self.eval_test else 0))

    def eval_images(self, n_val: int, n_test: int) -> int:
        """Images evaluated in a whole run: every epoch's, and the final test when the
        epochs do not measure it."""
        final = 0 if self.eval_test else n_test
        return self.epochs * self.eval_images_per_epoch(n_val, n_test) + final

    @property
    def augments(self) -> bool:
        return bool(self.affine_augments or self.aug_stroke or self.aug_elastic)

    @property
    def affine_augments(self) -> bool:
        return bool(self.aug_rotation or self.aug_translate or self.aug_scale)

    # ---- construction helpers ---------------------------------------------------------------
    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> TrainConfig:
        """The tuned recipe of `model` for the device that will train it (the GPU recipe uses
        larger batches), with `overrides` applied on top."""
        from mnist_core.machine import pick_device
        from mnist_core.train.recipes import recipe

        get_spec(model)  # unknown name -> ModelError listing valid ones
        device_type = pick_device(str(overrides.get("device", "auto"))).type
        return cls.from_dict({**recipe(model, device_type), "model": model, **overrides})

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes`, validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (safe for JSON and for torch.load(weights_only=True))."""
        d = dataclasses.asdict(self)
        d["model_kwargs"] = dict(self.model_kwargs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys are refused with the list of valid ones."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"Unknown setting {', '.join(unknown)}. Valid settings: {', '.join(sorted(names))}."
            )
        try:
            return cls(**d)
        except TypeError as e:
            raise ConfigError(f"Invalid settings: {e}") from None


def field_info(name: str) -> dataclasses.Field:
    """The dataclass field `name` with its metadata (help, min, max, choices)."""
    for f in fields(TrainConfig):
        if f.name == name:
            return f
    raise KeyError(name)


def field_range(name: str) -> tuple[float, float]:
    """The (min, max) allowed for the numeric setting `name`, from its field metadata: the one
    home of every range, which the command line, the UI and `TrainControl` all read."""
    meta = field_info(name).metadata
    lo, hi = meta["min"], meta["max"]
    if lo is None or hi is None:
        raise KeyError(f"{name} has no numeric range")
    return lo, hi


def check_lr(lr: object) -> float:
    """`lr` as a float when it is a peak learning rate that TrainConfig allows, also for a
    change while training. ConfigError (a ValueError) with the allowed range otherwise."""
    lo, hi = field_range("lr")
    number = isinstance(lr, int | float) and not isinstance(lr, bool)
    if not (number and math.isfinite(lr) and lo <= lr <= hi):  # type: ignore[arg-type,operator]
        raise ConfigError(f"learning rate must be between {lo:g} and {hi:g}; got {lr!r}.")
    return float(lr)


def parse_value(name: str, text: str) -> Any:
    """Parse a setting given as text (command line, URL query) into the field's type.

    Raises ConfigError naming the setting when the text does not parse.
    """
    f = field_info(name)
    text = text.strip()
    try:
        if name == "model_kwargs":
            import json

            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError("expected a JSON object")
            return value
        if isinstance(f.default, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if name == "train_subset":
            return None if text.lower() in ("", "none", "all") else int(text)
        if isinstance(f.default, int):
            return int(text)
        if isinstance(f.default, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return value
        return text
    except ValueError:  # Python's own words ("could not convert string to float") stay out
        raise ConfigError(f"{name}: cannot read {text!r}: {_expected(name, f.default)}.") from None


def _expected(name: str, default: Any) -> str:
    """What a setting given as text must look like, for the message when it does not."""
    if name == "model_kwargs":
        return 'give a JSON object, e.g. {"widths": [32, 64, 128]}'
    if isinstance(default, bool):
        return "give true or false"
    if name == "train_subset":
        return "give a whole number, or all"
    if isinstance(default, int):
        return "give a whole number, e.g. 128"
    return "give a finite number, e.g. 0.01 or 1e-3"
