"""The explain engine on real MNIST test digits and the shipped checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from mnist_core import explain as E
from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import ExplainError
from mnist_core.explain.common import LruCache, leaf_modules
from mnist_core.models import count_parameters, create_model, list_models
from mnist_core.models.inference import predict
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import Checkpoint, load_checkpoint, make_checkpoint
from mnist_core.train.config import TrainConfig
from mnist_core.train.loop import build_model, fit

# The one place that knows where the shipped checkpoints live.
SHIPPED_DIR = PACKAGED_PRETRAINED_DIR
MODELS = list_models()
CONV_MODELS = [m for m in MODELS if m != "mlp"]


# Architectures without a shipped checkpoint (the SpeedNet), trained by the fixture below.
_TRAINED_HERE: dict[str, Checkpoint] = {}


def shipped(name: str) -> Checkpoint:
    """The shipped checkpoint of architecture `name` (else the one trained here)."""
    if name in _TRAINED_HERE:
        return _TRAINED_HERE[name]
    return load_checkpoint(SHIPPED_DIR / f"{name}.pt")


@pytest.fixture(scope="module")
def mnist(mnist_raw: MnistRaw) -> MnistRaw:
    return mnist_raw  # loaded once per session (conftest)


@pytest.fixture(scope="module", autouse=True)
def every_model_has_a_checkpoint(mnist: MnistRaw) -> None:
    """Every registered architecture is explained, also one without a shipped checkpoint:
    its own recipe for one epoch on 20,000 images (the SpeedNet: about 3 s, 98% here)."""
    for name in MODELS:
        if name in _TRAINED_HERE or (SHIPPED_DIR / f"{name}.pt").is_file():
            continue
        config = TrainConfig.for_model(
            name, epochs=1, train_subset=20_000, val_size=0, eval_test=False, eval_every=0
        )
        model = build_model(config)
        ended = [e for e in fit(config, mnist, model=model, dynamics=False)][-1]
        assert ended.status == "finished", ended.message
        metrics = {"test_accuracy": ended.test_accuracy}
        _TRAINED_HERE[name] = make_checkpoint(model, config, metrics, name=f"{name} (test)")


def digits(mnist: MnistRaw, n: int, start: int = 0) -> torch.Tensor:
    """n test digits as float (n,28,28) in [0,1]."""
    return mnist.test_images[start : start + n].float() / 255


def _model(name: str) -> nn.Module:
    return shipped(name).build_model()


# --- layers and activations ------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_layers_and_activation_shapes(name, mnist):
    model = _model(name)
    layers = E.describe_layers(model)
    assert [info.name for info in layers][: len(leaf_modules(model))]  # found, in forward order
    assert layers[0].kind == "Normalize" and layers[0].shape == (1, 28, 28)
    assert layers[-1].kind == "Linear" and layers[-1].shape == (10,)
    assert sum(info.params for info in layers) == count_parameters(model)
    acts = E.activations(model, digits(mnist, 3))
    assert acts.layers == tuple(layers)
    for info, value in zip(acts.layers, acts.values, strict=True):
        assert tuple(value.shape) == (3, *info.shape), info
    np.testing.assert_allclose(acts.values[-1].softmax(1).numpy(), acts.probabilities, atol=1e-6)
    np.testing.assert_allclose(acts.probabilities, predict(model, digits(mnist, 3)), atol=1e-5)
    one = E.activations(model, mnist.test_images[0])  # one uint8 digit
    assert tuple(one.values[1].shape) == (1, *layers[1].shape)


def test_lenet_layers_exactly():
    layers = E.describe_layers(_model("lenet5"))
    assert [(i.kind, i.shape, i.params) for i in layers] == [
        ("Normalize", (1, 28, 28), 0),
        ("Conv2d", (6, 28, 28), 156),
        ("ReLU", (6, 28, 28), 0),
        ("MaxPool2d", (6, 14, 14), 0),
        ("Conv2d", (16, 10, 10), 2416),
        ("ReLU", (16, 10, 10), 0),
        ("MaxPool2d", (16, 5, 5), 0),
        ("Flatten", (400,), 0),
        ("Linear", (120,), 48120),
        ("ReLU", (120,), 0),
        ("Linear", (84,), 10164),
        ("ReLU", (84,), 0),
        ("Linear", (10,), 850),
    ]


def test_activations_survive_in_place_relu(mnist):
    # the resnet's BatchNorm output is overwritten by an in-place ReLU: kept values are copies
    acts = E.activations(_model("resnet"), digits(mnist, 1))
    bn = next(v for i, v in zip(acts.layers, acts.values, strict=True) if i.kind == "BatchNorm2d")
    assert float(bn.min()) < 0  # a ReLU output would be >= 0


def _calls(model: nn.Module, mnist: MnistRaw, name: str, k: int) -> list:
    """One call of each engine entry point; `k` keeps unit_index off the cache of another test."""
    x = digits(mnist, 2)
    calls = [
        lambda: E.describe_layers(model),
        lambda: E.activations(model, x),
        lambda: E.unit_index(model, mnist.test_images[:20], k=k),
        lambda: E.penultimate_features(model, x),
        *(lambda m=m: E.attribute(model, x[0], m, steps=4) for m in E.METHODS if m != "gradcam"),
    ]
    if name != "mlp":
        calls.append(lambda: E.attribute(model, x[0], "gradcam"))
    return calls


@pytest.mark.parametrize("name", MODELS)
def test_no_hook_left_and_modes_restored(name, mnist):
    model = _model(name)
    model.train()
    for call in _calls(model, mnist, name, k=4):
        call()
        assert E.hook_count(model) == 0
        assert all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())  # attributions leave .grad alone


@pytest.mark.parametrize("name", MODELS)
def test_no_hook_left_when_the_forward_raises(name, mnist):
    model = _model(name)
    _, last = leaf_modules(model)[-1]

    def broken(*_args: object) -> torch.Tensor:
        raise RuntimeError("forward failed")

    last.forward = broken  # the edge we break: the model's own forward pass
    model.train()
    for call in _calls(model, mnist, name, k=3):
        with pytest.raises(RuntimeError, match="forward failed"):
            call()
        assert E.hook_count(model) == 0
        assert all(m.training for m in model.modules())


# --- learned weights ---------------------------------------------------------------------------


def test_first_layer_kernels_and_templates():
    assert E.first_conv_kernels(_model("lenet5")).shape == (6, 1, 5, 5)
    assert E.first_conv_kernels(_model("resnet")).shape == (16, 1, 3, 3)
    mlp = _model("mlp")
    templates = E.first_layer_templates(mlp)
    assert templates.shape == (256, 28, 28)
    np.testing.assert_array_equal(templates[3].ravel(), mlp[2].weight[3].detach().numpy())
    with pytest.raises(ExplainError, match="templates"):
        E.first_conv_kernels(mlp)
    with pytest.raises(ExplainError, match="kernels"):
        E.first_layer_templates(_model("lenet5"))


@pytest.mark.parametrize("name", MODELS)
def test_top_activating_digits_match_brute_force_and_are_cached(name, mnist):
    model = _model(name)
    images = mnist.test_images[:120]
    index = E.unit_index(model, images, k=8, batch_size=50)  # several batches: running top-k
    assert E.unit_index(model, images, k=8) is index  # cached per weights and images
    acts = E.activations(model, images)
    for info, value in zip(acts.layers, acts.values, strict=True):
        if len(info.shape) == 3 or (len(info.shape) == 1 and info.kind == "Linear"):
            unit = info.shape[0] - 1
            scores = value.flatten(2).mean(2) if value.ndim > 2 else value
            idx, s = E.top_activating(model, images, info.name, unit, k=5)
            np.testing.assert_allclose(s, np.sort(scores[:, unit].numpy())[::-1][:5], rtol=1e-5)
            np.testing.assert_allclose(scores[idx, unit].numpy(), s, rtol=1e-5)
    with pytest.raises(ExplainError):
        index.top(acts.layers[-1].name, 10)
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    assert E.unit_index(model, images, k=8) is not index  # new weights, new index


def test_lru_cache_evicts_the_oldest():
    cache: LruCache[int] = LruCache(maxsize=2)
    for k in "abc":
        cache.get_or_compute(k, lambda k=k: ord(k))
    assert "a" not in cache and "b" in cache and len(cache) == 2


# --- attributions ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_attribution_maps(name, mnist):
    model = _model(name)
    x = digits(mnist, 1)[0]
    for method in E.METHODS:
        if method == "gradcam" and name == "mlp":
            with pytest.raises(ExplainError, match="Grad-CAM needs a convolution"):
                E.attribute(model, x, method)
            continue
        a = E.attribute(model, x, method)
        assert a.map.shape == (28, 28) and a.map.dtype == np.float32
        assert np.isfinite(a.map).all() and a.map.any()
        assert a.target == a.predicted == int(mnist.test_labels[0])
    assert E.attribute(model, x, "saliency", target=3).target == 3  # "why not a 3?"


def test_attribution_refuses_bad_requests(mnist):
    model, x = _model("lenet5"), digits(mnist, 1)[0]
    with pytest.raises(ExplainError, match="Unknown attribution method"):
        E.attribute(model, x, "lime")
    for bad in (10, -1, True, "3"):
        with pytest.raises(ExplainError, match="digit 0-9"):
            E.attribute(model, x, "saliency", target=bad)
    with pytest.raises(ExplainError, match="shape"):
        E.attribute(model, np.zeros((27, 28)), "saliency")


@pytest.mark.parametrize("name", MODELS)
def test_integrated_gradients_completeness(name, mnist):
    """The maps sum to logit(x) - logit(black) within 2% for the median digit at 128 steps.

    Per digit the gap of the quadrature is not always that small: these nets are piecewise
    linear (ReLU, max-pooling), so the gradient jumps along the path, and for a few digits
    f(x) - f(black) is itself tiny, which makes any gap large in relative terms. Measured on
    these 10 digits with the shipped checkpoints: median 0.5-1.1%, worst 2.0-3.1% at 128 steps
    (at 64 steps: median 0.9-2.7%, worst 5-9%)."""
    model = _model(name)
    x = digits(mnist, 10)
    maps, targets, _ = E.attribute_batch(model, x, "integrated_gradients", steps=128)
    t = torch.from_numpy(targets)
    with torch.no_grad():
        fx, f0 = model(x.unsqueeze(1)), model(torch.zeros(1, 1, 28, 28))
        delta = fx[torch.arange(10), t] - f0[0, t]
    gap = np.abs(maps.sum((1, 2)) / delta.numpy() - 1)
    print(f"{name}: completeness gap median {np.median(gap):.2%}, worst {gap.max():.2%}")
    assert np.median(gap) < 0.02, gap


@pytest.mark.parametrize("name", MODELS)
def test_model_randomisation_changes_saliency(name, mnist):
    """Adebayo et al. (2018): a map that survives re-initialising the weights explains the
    input, not the model."""
    ckpt = shipped(name)
    x = digits(mnist, 20, start=100)
    trained, _, _ = E.attribute_batch(ckpt.build_model(), x, "saliency")
    torch.manual_seed(0)
    fresh = create_model(ckpt.model, **dict(ckpt.model_kwargs)).eval()
    random, _, _ = E.attribute_batch(fresh, x, "saliency")
    rhos = [spearmanr(a.ravel(), b.ravel())[0] for a, b in zip(trained, random, strict=True)]
    print(f"{name}: mean Spearman rho trained vs re-initialised {np.mean(rhos):.3f}")
    assert np.mean(rhos) < 0.5, rhos


@pytest.mark.parametrize("name", MODELS)
def test_deleting_attributed_pixels_hurts_more_than_random_ink(name, mnist):
    model = _model(name)
    n, k = 100, 28 * 28 // 10  # zero 10% of the pixels: the most attributed, or random ink
    x = digits(mnist, n, start=200)
    maps, targets, probs = E.attribute_batch(model, x, "integrated_gradients", steps=8)
    rng = np.random.default_rng(0)
    by_map, at_random = x.clone().reshape(n, -1), x.clone().reshape(n, -1)
    for i in range(n):
        by_map[i, np.argsort(-maps[i].ravel())[:k]] = 0
        ink = np.flatnonzero(x[i].ravel().numpy() > 0)
        at_random[i, rng.choice(ink, size=min(k, len(ink)), replace=False)] = 0
    rows = np.arange(n)
    p0 = probs[rows, targets]
    p_map = predict(model, by_map.reshape(n, 28, 28))[rows, targets]
    p_random = predict(model, at_random.reshape(n, 28, 28))[rows, targets]
    drop_map, drop_random = (p0 - p_map).mean(), (p0 - p_random).mean()
    print(
        f"{name}: probability drop, top-10% attributed {drop_map:.3f}, random ink {drop_random:.3f}"
    )
    assert drop_map > drop_random


# --- embedding ---------------------------------------------------------------------------------


def _knn_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    half = len(points) // 2
    knn = KNeighborsClassifier(n_neighbors=5).fit(points[:half], labels[:half])
    return float(knn.score(points[half:], labels[half:]))


def test_embedding_separates_what_the_resnet_learned(mnist):
    model = _model("resnet")
    idx = E.sample_indices(len(mnist.test_images), 2000)
    emap = E.embedding_map(model, mnist.test_images, mnist.test_labels, indices=idx)
    pixels = mnist.test_images[idx].reshape(len(idx), -1).float().numpy() / 255
    raw = E.fit_pca(pixels).transform(pixels)
    labels = mnist.test_labels.numpy()[idx]
    learned, pixel = _knn_accuracy(emap.points, labels), _knn_accuracy(raw, labels)
    print(f"resnet: 5-NN accuracy on 2-D PCA, features {learned:.3f}, raw pixels {pixel:.3f}")
    assert learned > pixel


@pytest.mark.parametrize("name", MODELS)
def test_pca_map_points_and_placing_a_digit(name, mnist):
    model = _model(name)
    idx = E.sample_indices(len(mnist.test_images), 400, seed=1)
    emap = E.embedding_map(model, mnist.test_images, mnist.test_labels, indices=idx)
    assert emap.points.shape == (400, 2) and np.array_equal(emap.indices, idx)
    assert np.array_equal(emap.labels, mnist.test_labels.numpy()[idx])
    assert np.array_equal(emap.mistakes, emap.predictions != emap.labels)
    pred = predict(model, mnist.test_images[idx].float() / 255).argmax(1)
    assert np.array_equal(emap.predictions, pred)
    assert 0 < emap.pca.explained.sum() <= 1
    j = 7  # a digit already on the map lands where it is
    placed = E.place_digit(model, emap, mnist.test_images[idx[j]].float() / 255)
    np.testing.assert_allclose(placed, emap.points[j], atol=1e-3)
    rec = emap.to_records()[j]
    assert rec["index"] == idx[j] and rec["mistake"] == bool(emap.mistakes[j])


def test_tsne_map_is_cached_per_checkpoint(mnist):
    model = _model("lenet5")
    idx = E.sample_indices(len(mnist.test_images), 60)
    first = E.embedding_map(
        model, mnist.test_images, mnist.test_labels, projection="tsne", indices=idx
    )
    again = E.embedding_map(
        model, mnist.test_images, mnist.test_labels, projection="tsne", indices=idx
    )
    assert first.points.shape == (60, 2) and np.isfinite(first.points).all()
    assert again.points is first.points  # the slow projection ran once
    with pytest.raises(ExplainError, match="PCA"):
        E.place_digit(model, first, mnist.test_images[0])


def test_tsne_in_the_background_once_per_checkpoint(mnist):
    """Issue 29: the t-SNE map computed in a background thread, shared by later calls for the
    same weights and digits, is the map `embedding_map` gives (its cache: the same points)."""
    model = _model("mlp")
    idx = E.sample_indices(len(mnist.test_images), 80)
    task = E.tsne_in_background(model, mnist.test_images, mnist.test_labels, indices=idx)
    assert E.tsne_in_background(model, mnist.test_images, mnist.test_labels, indices=idx) is task
    assert task.expected_s > 0
    emap = task.future.result(timeout=120)
    assert emap.projection == "tsne" and emap.points.shape == (80, 2)
    np.testing.assert_array_equal(emap.indices, idx)
    direct = E.embedding_map(
        model, mnist.test_images, mnist.test_labels, projection="tsne", indices=idx
    )
    assert direct.points is emap.points  # computed once, in the background
    lenet = _model("lenet5")
    other = E.tsne_in_background(lenet, mnist.test_images, mnist.test_labels, indices=idx)
    assert other is not task
    other.future.result(timeout=120)
