"""Every registered architecture: output shape, gradients, registry errors."""

import pytest
import torch

from mnist_core.errors import ModelError
from mnist_core.models import count_parameters, create_model, get_spec, list_models


def test_registry_lists_the_four_models():
    assert list_models() == ["mlp", "lenet5", "resnet", "speednet"]


@pytest.mark.parametrize("name", list_models())
def test_output_shape_and_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert out.shape == (4, 10)
    out.logsumexp(1).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
        assert p.grad.abs().sum() > 0, f"{name}.{pname} got a zero gradient"


@pytest.mark.parametrize("name", list_models())
def test_spec_has_description_and_small_size(name):
    spec = get_spec(name)
    assert spec.title and spec.description
    n = count_parameters(create_model(name))
    assert 10_000 < n < 1_250_000  # a checkpoint must stay under 5 MB of float32


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ModelError) as e:
        create_model("vgg")
    assert "mlp" in str(e.value) and "resnet" in str(e.value)


@pytest.mark.parametrize(
    ("name", "kwargs", "needle"),
    [
        ("mlp", {"hidden": ()}, "hidden"),
        ("mlp", {"hidden": (0,)}, "hidden"),
        ("mlp", {"dropout": 1.5}, "dropout"),
        ("mlp", {"bogus": 1}, "no option bogus"),
        ("resnet", {"width": 2}, "width"),
        ("resnet", {"depth": 99}, "depth"),
        ("lenet5", {"activation": "gelu"}, "activation"),
    ],
)
def test_bad_options_are_explained(name, kwargs, needle):
    with pytest.raises(ModelError) as e:
        create_model(name, **kwargs)
    assert needle in str(e.value)


def test_options_change_the_architecture():
    small = count_parameters(create_model("mlp", hidden=(32,)))
    assert small == 784 * 32 + 32 + 32 * 10 + 10
    assert count_parameters(create_model("resnet", width=8, depth=2)) < count_parameters(
        create_model("resnet", width=16, depth=2)
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "parts"),
    [
        ("mlp", {}, ["784-256-64-10 fully connected", "ReLU"]),
        ("mlp", {"hidden": (1024, 1024, 512), "dropout": 0.2}, ["784-1024-1024-512-10", "0.2"]),
        ("lenet5", {"activation": "tanh", "pool": "avg"}, ["conv 6@5x5 → avg pool", "tanh"]),
        ("resnet", {"width": 8, "depth": 2}, ["conv 8@3x3", "2 × residual block", "32-10"]),
        ("resnet", {"depth": 0}, ["conv 16@3x3", "64-10 fully connected", "BatchNorm"]),
    ],
)
def test_the_description_is_read_from_the_built_model(name, kwargs, parts):
    from mnist_core.models import describe_model

    text = describe_model(create_model(name, **kwargs))
    for part in parts:
        assert part in text, text
    if name == "resnet" and kwargs.get("depth") == 0:
        assert "residual" not in text
    # and the hand-written line claims nothing that options change
    assert "784-256-64-10" not in get_spec(name).description
