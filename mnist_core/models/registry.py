"""The model registry: `create_model(name, **kwargs)` and `list_models()`, timm style.

Each architecture module registers a factory with `@register_model`. The registry is the one
piece of module-level state in the engine: it is filled at import time and never changes after.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from mnist_core.errors import ModelError

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """What the UI and the command line need to know about one architecture."""

    name: str
    title: str  # short human name, e.g. "LeNet-5"
    description: str  # one line for the UI, true for any options (see describe_model)
    factory: Factory
    order: int  # position in lists: simple to complex

    def default_kwargs(self) -> dict[str, object]:
        """The factory's keyword defaults, e.g. {"hidden": (256, 64), "dropout": 0.0}."""
        sig = inspect.signature(self.factory)
        return {
            k: p.default
            for k, p in sig.parameters.items()
            if p.default is not inspect.Parameter.empty
        }


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str, *, title: str, description: str, order: int = 100
) -> Callable[[Factory], Factory]:
    """Decorator that adds an architecture factory to the registry under `name`."""

    def wrap(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, title, description, factory, order)
        return factory

    return wrap


def list_models() -> list[str]:
    """Names of all registered architectures, simplest first."""
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].order, n))


def get_spec(name: str) -> ModelSpec:
    """The spec of `name`; an unknown name raises ModelError listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(list_models())
        raise ModelError(f"Unknown model {name!r}. Choose one of: {valid}.") from None


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build architecture `name` with its keyword options (validated by the factory)."""
    spec = get_spec(name)
    allowed = spec.default_kwargs()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        opts = ", ".join(allowed) or "none"
        raise ModelError(
            f"Model {name!r} has no option {', '.join(unknown)}. Its options are: {opts}."
        )
    try:
        return spec.factory(**kwargs)
    except (TypeError, ValueError) as e:
        raise ModelError(f"Invalid options for model {name!r}: {e}") from None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
