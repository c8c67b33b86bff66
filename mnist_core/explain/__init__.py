"""Inside a model: layers, activations, learned weights, attributions and an embedding map.

Plain Python on any registered architecture (`mnist_core.models`), no streamlit; every function
takes raw pixels in [0, 1] (ink bright) as the models do, puts the model in eval mode for the
call and restores its modes, and leaves no hook behind. One module per job:

- `layers`: `describe_layers`, `activations`
- `weights`: `first_conv_kernels`, `first_layer_templates`, `unit_index`, `top_activating`
- `attributions`: `attribute`, `attribute_batch` (saliency, integrated_gradients, occlusion,
  gradcam), with captum
- `embedding`: `embedding_map` (PCA or t-SNE), `tsne_in_background`, `place_digit`,
  `penultimate_features`
"""

from mnist_core.explain.attributions import (
    METHODS,
    Attribution,
    attribute,
    attribute_batch,
    check_method,
    gradcam_layer,
)
from mnist_core.explain.common import hook_count, weights_fingerprint
from mnist_core.explain.embedding import (
    EmbeddingMap,
    Pca,
    TsneTask,
    embedding_map,
    fit_pca,
    penultimate_features,
    place_digit,
    sample_indices,
    tsne_in_background,
)
from mnist_core.explain.layers import Activations, LayerInfo, activations, describe_layers
from mnist_core.explain.weights import (
    UnitIndex,
    first_conv_kernels,
    first_layer_templates,
    top_activating,
    unit_index,
)

__all__ = [
    "METHODS",
    "Activations",
    "Attribution",
    "EmbeddingMap",
    "LayerInfo",
    "Pca",
    "TsneTask",
    "UnitIndex",
    "activations",
    "attribute",
    "attribute_batch",
    "check_method",
    "describe_layers",
    "embedding_map",
    "first_conv_kernels",
    "first_layer_templates",
    "fit_pca",
    "gradcam_layer",
    "hook_count",
    "penultimate_features",
    "place_digit",
    "sample_indices",
    "top_activating",
    "tsne_in_background",
    "unit_index",
    "weights_fingerprint",
]
