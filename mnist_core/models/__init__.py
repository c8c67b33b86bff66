"""Architectures, by name: `create_model("lenet5")`, `list_models()`.

Every model maps (B,1,28,28) float pixels in [0,1] (ink bright) to (B,10) logits and
normalises its input itself, so checkpoints need no separate preprocessing constants.
"""

from mnist_core.models import lenet, mlp, resnet, speednet  # noqa: F401  (register the architectures)
from mnist_core.models.describe import describe_model
from mnist_core.models.registry import (
    ModelSpec,
    count_parameters,
    create_model,
    get_spec,
    list_models,
    register_model,
)

__all__ = [
    "ModelSpec",
    "count_parameters",
    "create_model",
    "describe_model",
    "get_spec",
    "list_models",
    "register_model",
]
