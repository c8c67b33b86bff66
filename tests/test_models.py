"""Every registered architecture: output shape, gradients, registry errors."""

import pytest
import torch

from mnist_core.errors import ModelError
from mnist_core.models import count_parameters, create_model, get_spec, list_models


def test_registry_lists_three_models():
    assert list_models() == ["mlp", "lenet5", "resnet"]


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
