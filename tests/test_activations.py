import pytest
import torch
import yaml
from conftest import ROOT

from nnclaims.nets import activations


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


def test_max_sigmoid_gradient_is_autograds_bit_for_bit_ties_included():
    """The hand-written backward against autograd on torch.maximum(x, σ(x)), at the float32 tie
    x = σ(x) too (x = 0.659046, where each side gets half the gradient)."""
    xs = torch.linspace(0.6589, 0.6592, 20001)
    ties = xs[torch.sigmoid(xs) == xs]
    assert len(ties) > 0  # the case is real, not hypothetical
    x0 = torch.cat([torch.randn(4000) * 3, ties, torch.tensor([0.0, 1.0, -1.0, 20.0, -20.0])])
    g = torch.randn_like(x0)
    got, want = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    y = activations.max_sigmoid(got)
    y.backward(g)
    y_ref = torch.maximum(want, torch.sigmoid(want))
    y_ref.backward(g)
    assert torch.equal(y, y_ref)
    assert torch.equal(got.grad, want.grad)


def test_mish_values_and_gradient():
    """Mish (Misra 2019) against its formula; its minimum ≈ −0.3088 at x ≈ −1.1924."""
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64, requires_grad=True)
    y = activations.get("mish")(x).detach()
    assert torch.allclose(y, x * torch.tanh(torch.log1p(torch.exp(x))))
    i = int(y.argmin())
    assert float(y[i]) == pytest.approx(-0.3088, abs=1e-4)
    assert float(x[i].detach()) == pytest.approx(-1.1924, abs=0.01)
    assert torch.autograd.gradcheck(activations.get("mish"), (x[::50].detach().requires_grad_(),))


@pytest.mark.parametrize("name, power", [("identity", 1), ("square", 2), ("cube", 3)])
def test_polynomial_activations_values_and_gradient(name, power):
    """x, x², x³ against torch.pow; large inputs overflow to inf (a divergence the engine
    records), never an error."""
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    fn = activations.get(name)
    assert torch.allclose(fn(x), x.pow(power))
    assert torch.autograd.gradcheck(fn, (x[::6].detach().requires_grad_(),))
    if power > 1:
        assert torch.isinf(fn(torch.tensor([1e30]))).all()


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
    from nnclaims.nets.models import MODELS
    from nnclaims.nets.vision import IMAGE_MODELS

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"]["train"]["properties"]["model"]["enum"]
    assert sorted(enum) == sorted([*MODELS, *IMAGE_MODELS])


def test_schema_lists_exactly_the_known_datasets():
    from nnclaims.data import datasets as data

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert sorted(schema["properties"]["datasets"]["items"]["enum"]) == data.known()
