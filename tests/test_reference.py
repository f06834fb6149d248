"""The engine against an independent reference: torch's own layers and optimizer, in float64.

The other float64 engine tests compare a stack of K models with stacks of one, i.e. the engine
with itself. Here one stack of 3 models (relu, swish and hat; random 0/1 masks on the weights)
trains for a few epochs with engine.train_classifier, and each model is trained again as a plain
nn.Module (nn.Linear / nn.Conv1d in torch's own layout, mask applied as weight * mask in
forward, F.cross_entropy, torch.optim.Adam) from the same θ0 and the same batch order. The
per-epoch train loss, test loss and accuracy and the final weights must agree to 1e-10, for
the MLP and the CNN and for both of the engine's Adam paths (one lr: fused kernel; one lr per
model: StackedAdam). A reference with a 1 % different lr must not agree, so the check has teeth.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnclaims.core import seeding
from nnclaims.data.datasets import linear_toy
from nnclaims.nets.models import StackedCNN, StackedMLP, StackedResMLP, init_weights
from nnclaims.train import engine

F64 = torch.float64
SEEDS = [3, 4, 5]
ACTS = ["relu", "swish", "hat"]  # model k of the stack uses ACTS[k] in every hidden layer
EPOCHS, BATCH = 3, 50
N_TRAIN = 310  # 6 batches of 50 per epoch; the engine drops the last 10
D_IN, DEPTH, WIDTH, CLASSES = 40, 2, 12, 4
ATOL = 1e-10


# ---------------------------------------------------------------------------------------------
# The reference: plain torch modules, one model at a time.


class Hat(nn.Module):
    """Hat(x) = x on [0, 1], 2 − x on [1, 2], 0 elsewhere, written piecewise from the definition
    (the engine builds it from three ReLUs)."""

    def forward(self, x):
        return torch.where(x <= 1, F.relu(x), F.relu(2 - x))


REF_ACTS = {"relu": nn.ReLU, "swish": nn.SiLU, "hat": Hat}


class MaskedLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MaskedConv1d(nn.Conv1d):
    def forward(self, x):
        return F.conv1d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


def _load(layer: nn.Module, w: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> nn.Module:
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    layer.register_buffer("mask", mask.clone())
    return layer


def reference_net(kind: str, act: str, ws, bs, masks) -> nn.Sequential:
    """One model in torch's layout from its weights, biases and masks (torch layout too)."""
    layers: list[nn.Module] = []
    if kind == "cnn":
        layers.append(nn.Unflatten(1, (1, D_IN)))  # (B, L) → (B, C=1, L)
        for w, b, m in zip(ws[:-1], bs[:-1], masks[:-1]):
            c_out, c_in, kernel = w.shape
            conv = MaskedConv1d(c_in, c_out, kernel, stride=2, padding=1, dtype=F64)
            layers += [_load(conv, w, b, m), REF_ACTS[act]()]
        layers.append(nn.Flatten())  # Conv1d's (C, L) order
    else:
        for w, b, m in zip(ws[:-1], bs[:-1], masks[:-1]):
            lin = MaskedLinear(w.shape[1], w.shape[0], dtype=F64)
            layers += [_load(lin, w, b, m), REF_ACTS[act]()]
    head = MaskedLinear(ws[-1].shape[1], ws[-1].shape[0], dtype=F64)
    layers.append(_load(head, ws[-1], bs[-1], masks[-1]))
    return nn.Sequential(*layers)


def to_torch_layout(kind: str, model, ws, bs, k: int):
    """Model k's weights and biases from the engine's stacked storage to nn.Linear (out, in) /
    nn.Conv1d (C_out, C_in, kernel). Hidden linear weights are stored (fan_in, fan_out), conv
    weights tap-major (kernel·C_in, C_out), the head (out, in) with a CNN's features already in
    Conv1d's (C, L) flatten order; biases (1, out), the head's (out, 1)."""
    out_w = []
    for i, w in enumerate(ws):
        w = w[k]
        if i == len(ws) - 1:
            out_w.append(w.clone())
        elif kind == "cnn":
            kernel = model.convs[i][0]
            out_w.append(w.reshape(kernel, -1, w.shape[1]).permute(2, 1, 0).contiguous())
        else:
            out_w.append(w.T.contiguous())
    return out_w, [b[k].reshape(-1).clone() for b in bs]


def drawn_theta0(kind: str, model, k: int):
    """Model k's θ0 in torch's layout straight from the documented law (init_weights with the
    seed's "init" stream, drawn (fan_in, fan_out); a CNN head drawn for a channels-last (L, C)
    flatten), without the engine's storage: a check of to_torch_layout and of the engine's
    permutations."""
    draws = init_weights(seeding.derive_seed(SEEDS[k], "init"), model.sizes, dtype=F64)
    ws, bs = [], []
    for i, (w, b) in enumerate(draws):
        if kind == "cnn" and i < len(draws) - 1:
            kernel = model.convs[i][0]
            w = w.view(kernel, -1, w.shape[1]).permute(2, 1, 0)  # (C_out, C_in, kernel)
        elif kind == "cnn":
            length = w.shape[0] // WIDTH  # rows l·C + c → columns c·L + l
            w = w.view(length, WIDTH, -1).permute(2, 1, 0).reshape(-1, WIDTH * length)
        else:
            w = w.T
        ws.append(w.contiguous())
        bs.append(b.reshape(-1))
    return ws, bs


def train_reference(net: nn.Module, data: engine.Arrays, seed: int, lr: float):
    """Minibatch Adam, the textbook way: per epoch one randperm from the run's "order" stream,
    full batches in that order (the last partial one dropped). Returns per-epoch train loss
    (mean over the epoch's batches), test loss and test accuracy in %."""
    opt = torch.optim.Adam(net.parameters(), lr=lr, foreach=False, fused=False)
    g = seeding.generator(seed, "order")
    n = data.x_train.shape[0]
    hist = {"train_loss": [], "test_loss": [], "test_acc": []}
    for _ in range(EPOCHS):
        perm = torch.randperm(n, generator=g)
        losses = []
        for s in range(n // BATCH):
            idx = perm[s * BATCH : (s + 1) * BATCH]
            loss = F.cross_entropy(net(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            logits = net(data.x_test)
            hist["test_loss"].append(F.cross_entropy(logits, data.y_test).item())
            acc = (logits.argmax(1) == data.y_test).double().mean().item() * 100
            hist["test_acc"].append(acc)
        hist["train_loss"].append(float(np.mean(losses)))
    return {key: np.array(v) for key, v in hist.items()}


# ---------------------------------------------------------------------------------------------


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.mark.parametrize("lr", [1e-2, [3e-3, 1e-2, 2e-2]], ids=["one_lr", "lr_per_model"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_engine_run_equals_torch_layers_and_adam(kind, lr):
    data = linear_toy(n=N_TRAIN, d=D_IN, classes=CLASSES, dtype=F64, seed=1)
    cls = {"mlp": StackedMLP, "cnn": StackedCNN}[kind]
    model = cls(SEEDS, D_IN, DEPTH, WIDTH, CLASSES, [[a] for a in ACTS], dtype=F64)
    g = torch.Generator().manual_seed(7)
    masks = [(torch.rand(w.shape, generator=g, dtype=F64) < 0.7).to(F64) for w in model.weights]
    model.set_masks(masks)
    w0 = [w.detach().clone() for w in model.weights]  # θ0, masked, before any step
    b0 = [b.detach().clone() for b in model.biases]

    hist = engine.train_classifier(model, data, EPOCHS, BATCH, lr)

    lrs = lr if isinstance(lr, list) else [lr] * len(SEEDS)
    diffs = {}
    for k, (seed, act) in enumerate(zip(SEEDS, ACTS)):
        ws, bs = to_torch_layout(kind, model, w0, b0, k)
        ms, _ = to_torch_layout(kind, model, masks, b0, k)
        # the same θ0 as the documented init law gives, masked: exactly, only layouts differ
        dws, dbs = drawn_theta0(kind, model, k)
        for i, (a, b) in enumerate(zip(ws + bs, [d * m for d, m in zip(dws, ms)] + dbs)):
            assert torch.equal(a, b), f"model {k}: θ0 tensor {i} is not the drawn one"

        net = reference_net(kind, act, ws, bs, ms)
        ref = train_reference(net, data, seed, lrs[k])
        final_w, final_b = to_torch_layout(kind, model, list(model.weights), list(model.biases), k)
        for key in ("train_loss", "test_loss", "test_acc"):
            diffs[f"{key}[{k}]"] = _max_diff(hist[key][:, k], ref[key])
            np.testing.assert_allclose(hist[key][:, k], ref[key], rtol=0, atol=ATOL, err_msg=key)
        ref_w = [layer.weight for layer in net if hasattr(layer, "mask")]
        ref_b = [layer.bias for layer in net if hasattr(layer, "mask")]
        for i, (ours, theirs) in enumerate(zip(final_w + final_b, ref_w + ref_b)):
            diffs[f"param{i}[{k}]"] = _max_diff(ours.detach(), theirs.detach())
            np.testing.assert_allclose(
                ours.detach().numpy(), theirs.detach().numpy(), rtol=0, atol=ATOL, err_msg=str(i)
            )
        assert hist["diverged_epoch"][k] == 0
        # pruned weights never moved off zero
        for w, m in zip(ref_w, ms):
            assert torch.all(w[m == 0] == 0)
    print(
        f"\n{kind} {'one lr' if not isinstance(lr, list) else 'lr per model'}: max |Δ| "
        f"losses {max(v for n, v in diffs.items() if 'loss' in n):.2e}, "
        f"acc {max(v for n, v in diffs.items() if 'acc' in n):.2e}, "
        f"weights {max(v for n, v in diffs.items() if 'param' in n):.2e}"
    )

    # a reference that is wrong by 1 % in the lr must be told apart: the check can fail
    ws, bs = to_torch_layout(kind, model, w0, b0, 0)
    ms, _ = to_torch_layout(kind, model, masks, b0, 0)
    wrong_net = reference_net(kind, ACTS[0], ws, bs, ms)
    wrong = train_reference(wrong_net, data, SEEDS[0], lrs[0] * 1.01)
    assert _max_diff(hist["train_loss"][:, 0], wrong["train_loss"]) > 1e3 * ATOL
    wrong_w = [layer.weight for layer in wrong_net if hasattr(layer, "mask")]
    final_w, _ = to_torch_layout(kind, model, list(model.weights), list(model.biases), 0)
    assert max(_max_diff(a.detach(), b.detach()) for a, b in zip(final_w, wrong_w)) > 1e3 * ATOL


class MLPBase(nn.Module):
    """The MNIST-1D repository's MLPBase (notebooks/models.py), as written there."""

    def __init__(self, input_size, output_size, hidden_size=100):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size, dtype=F64)
        self.linear2 = nn.Linear(hidden_size, hidden_size, dtype=F64)
        self.linear3 = nn.Linear(hidden_size, output_size, dtype=F64)

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


def test_mlp_res_in_data_order_is_the_mnist1d_repository_recipe():
    """model mlp_res with shuffle: false against the repository's own MLPBase trained by
    its train.py loop (batch i = examples [i·B, (i+1)·B) mod N, Adam, one step per batch):
    the per-epoch losses and the final weights agree; shuffled batches do not."""
    data = linear_toy(n=300, d=D_IN, classes=CLASSES, dtype=F64, seed=2)
    steps_per_epoch, epochs, lr = 300 // BATCH, 4, 1e-2
    model = StackedResMLP([SEEDS[0]], D_IN, 2, WIDTH, CLASSES, ["relu"], dtype=F64)
    ws, bs = to_torch_layout("mlp", model, list(model.weights), list(model.biases), 0)
    net = MLPBase(D_IN, CLASSES, WIDTH)
    with torch.no_grad():
        for layer, w, b in zip((net.linear1, net.linear2, net.linear3), ws, bs):
            layer.weight.copy_(w)
            layer.bias.copy_(b)

    hist = engine.train_classifier(model, data, epochs, BATCH, lr, shuffle=False)

    opt = torch.optim.Adam(net.parameters(), lr, foreach=False, fused=False)
    losses = []
    for step in range(epochs * steps_per_epoch):  # train.py's loop
        bix = (step * BATCH) % len(data.x_train)
        x, y = data.x_train[bix : bix + BATCH], data.y_train[bix : bix + BATCH]
        loss = F.cross_entropy(net(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad()
    ref_loss = np.array(losses).reshape(epochs, steps_per_epoch).mean(1)
    np.testing.assert_allclose(hist["train_loss"][:, 0], ref_loss, rtol=0, atol=ATOL)
    final_w, _ = to_torch_layout("mlp", model, list(model.weights), list(model.biases), 0)
    for ours, layer in zip(final_w, (net.linear1, net.linear2, net.linear3)):
        np.testing.assert_allclose(ours.detach(), layer.weight.detach(), rtol=0, atol=ATOL)

    # the plain MLP (no residual) or a shuffled order is a different run: the check has teeth
    plain = StackedMLP([SEEDS[0]], D_IN, 2, WIDTH, CLASSES, ["relu"], dtype=F64)
    other = engine.train_classifier(plain, data, epochs, BATCH, lr, shuffle=False)
    assert _max_diff(other["train_loss"][:, 0], ref_loss) > 1e3 * ATOL
    again = StackedResMLP([SEEDS[0]], D_IN, 2, WIDTH, CLASSES, ["relu"], dtype=F64)
    shuffled = engine.train_classifier(again, data, epochs, BATCH, lr)
    assert _max_diff(shuffled["train_loss"][:, 0], ref_loss) > 1e3 * ATOL
