import pytest
import torch
import yaml
from conftest import ROOT

from nnclaims import activations


@pytest.mark.parametrize(
    "x, want", [(-1.0, 0.0), (0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.5, 0.5), (2.0, 0.0), (3.0, 0.0)]
)
def test_hat_values(x, want):
    assert activations.hat(torch.tensor(x)).item() == pytest.approx(want)


def test_swish_is_x_sigmoid_x():
    x = torch.linspace(-6, 6, 101)
    assert torch.allclose(activations.swish(x), x * torch.sigmoid(x))
    assert torch.allclose(activations.get("swish")(x), x / (1 + torch.exp(-x)), atol=1e-6)


def test_max_sigmoid():
    x = torch.tensor([-2.0, 0.0, 2.0])
    assert torch.allclose(
        activations.max_sigmoid(x), torch.tensor([torch.sigmoid(torch.tensor(-2.0)), 0.5, 2.0])
    )


def test_trainable_beta_gets_gradient_per_model():
    act = activations.make_layer_activation(["swish_beta"], width=4, n_models=3)
    x = torch.randn(3, 5, 4)
    act(x).sum().backward()
    assert act.beta.shape == (3,)
    assert act.beta.grad is not None and torch.all(act.beta.grad != 0)


def test_mixed_layer_splits_units_evenly():
    act = activations.make_layer_activation(["relu", "tanh"], width=4, n_models=1)
    x = torch.tensor([[[-1.0, -1.0, -1.0, -1.0]]])
    out = act(x)
    assert torch.allclose(out[..., :2], torch.zeros(2))
    assert torch.allclose(out[..., 2:], torch.tanh(torch.tensor([-1.0, -1.0])))


def test_unknown_activation_names_the_known_ones():
    with pytest.raises(ValueError, match=r"No such activation: 'relux'. Known: .*relu.*swish"):
        activations.get("relux")
    with pytest.raises(ValueError, match="relux"):
        activations.make_layer_activation(["relu", "relux"], width=4, n_models=1)


def test_schema_lists_exactly_the_registered_activations():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert sorted(schema["$defs"]["activation"]["enum"]) == activations.known()


def test_schema_lists_exactly_the_registered_models():
    from nnclaims.models import MODELS
    from nnclaims.vision import IMAGE_MODELS

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"]["train"]["properties"]["model"]["enum"]
    assert sorted(enum) == sorted([*MODELS, *IMAGE_MODELS])


def test_schema_lists_exactly_the_known_datasets():
    from nnclaims import data

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert sorted(schema["properties"]["datasets"]["items"]["enum"]) == data.known()
