"""A model's float32 trajectory does not depend on its stack.

Trained alone, in a stack of 3 and in a stack of 40 mixed arms (other seeds, activations and
learning rates around it), the same model must give identical bytes: losses, accuracies and
final weights. Widths are odd so that models' slices end inside SIMD vectors: before the fix,
torch's fused Adam over whole stacked tensors and the vectorised activations rounded a model's
tail elements by their place in the stack (ReLU MLP, lr 0.01 on MNIST-1D: 63.7 vs 66.0 % after
50 epochs), and the CNN's conv backward summed a strided gradient in another order.
"""

import numpy as np
import pytest

from nnclaims.data.datasets import Draws, linear_toy
from nnclaims.nets.models import StackedCNN, StackedMLP
from nnclaims.train import engine

OTHERS = ["relu", "swish", "hat", "gelu", "elu", "tanh", "sin", "swish_beta", "softplus"]


def _fingerprint(h: dict, model, i: int) -> bytes:
    parts = [np.ascontiguousarray(h[m][:, i]).tobytes() for m in ("train_loss", "test_loss")]
    parts.append(np.ascontiguousarray(h["test_acc"][:, i]).tobytes())
    parts += [p[i].detach().numpy().tobytes() for p in [*model.weights, *model.biases]]
    return b"".join(parts)


def _train(cls, seeds, acts, lrs, width, depth, data, per_model_lr):
    act = acts if len({tuple(a) for a in acts}) > 1 else acts[0]
    m = cls(seeds, 40, depth, width, 4, act)
    lr = lrs if per_model_lr else lrs[0]
    h = engine.train_classifier(m, data, 2, 30, lr)
    return h, m


@pytest.mark.parametrize("per_model_lr", [False, True], ids=["one_lr", "lr_per_model"])
@pytest.mark.parametrize(
    "cls,width,depth", [(StackedMLP, 37, 2), (StackedCNN, 7, 2)], ids=["mlp", "cnn"]
)
@pytest.mark.parametrize("target", [["swish"], ["gelu"], ["sin"], ["hat"], ["swish_beta"]])
def test_model_is_bitwise_the_same_alone_and_in_any_stack(cls, width, depth, per_model_lr, target):
    data = linear_toy(n=300, d=40, classes=4, seed=1)
    lr = 0.01
    h1, m1 = _train(cls, [3], [target], [lr], width, depth, data, per_model_lr)
    alone = _fingerprint(h1, m1, 0)
    # a stack of 3: the model in the middle, other seeds and (with one lr) other activations
    acts3 = [["relu"], target, ["tanh"]] if not per_model_lr else [target] * 3
    lrs3 = [0.03, lr, 0.003] if per_model_lr else [lr] * 3
    h3, m3 = _train(cls, [5, 3, 7], acts3, lrs3, width, depth, data, per_model_lr)
    assert _fingerprint(h3, m3, 1) == alone
    # a stack of 40 mixed arms, the model at position 17 (a mix among them: within-layer split)
    seeds = [(i * 7) % 11 for i in range(40)]
    acts = [[OTHERS[i % len(OTHERS)]] for i in range(40)]
    acts[5] = ["relu", "tanh"]
    lrs = [(0.003, 0.01, 0.03)[i % 3] for i in range(40)] if per_model_lr else [lr] * 40
    seeds[17], acts[17], lrs[17] = 3, target, lr
    h40, m40 = _train(cls, seeds, acts, lrs, width, depth, data, per_model_lr)
    assert _fingerprint(h40, m40, 17) == alone
    # and the check can fail: a different seed in the same place gives other bytes
    assert _fingerprint(h40, m40, 16) != alone


@pytest.mark.parametrize("cls,width", [(StackedMLP, 37), (StackedCNN, 7)], ids=["mlp", "cnn"])
def test_a_model_on_its_own_draw_is_bitwise_the_same_alone_and_in_a_stack_of_other_draws(
    cls, width
):
    """Per-seed draws (data.Draws): model k gathers its batches from, and is scored on, its data
    seed's draw; alone, or among models on other draws, it gives the same bytes, and the bytes
    of a model trained on the one shared draw (data.Arrays) of its seed's data."""
    draws = Draws({s: linear_toy(n=300, d=40, classes=4, seed=s) for s in (3, 5, 7, 9)})
    h1, m1 = _train(cls, [3], [["swish"]], [0.01], width, 2, draws, False)
    alone = _fingerprint(h1, m1, 0)
    shared, ms = _train(cls, [3], [["swish"]], [0.01], width, 2, draws[3], False)
    assert _fingerprint(shared, ms, 0) == alone
    h4, m4 = _train(cls, [5, 3, 7, 9], [["relu"], ["swish"], ["tanh"], ["gelu"]], [0.01] * 4,
                    width, 2, draws, False)  # fmt: skip
    assert _fingerprint(h4, m4, 1) == alone
    # the draw matters: the same seed and arm on data seed 5's draw gives other bytes
    other = cls([3], 40, 2, width, 4, ["swish"])
    other.data_seeds = [5]
    h5 = engine.train_classifier(other, draws, 2, 30, 0.01)
    assert _fingerprint(h5, other, 0) != alone
