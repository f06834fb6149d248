import numpy as np
import pytest
import torch

from nnclaims.data.datasets import linear_toy
from nnclaims.nets import pruning, stacked_ops
from nnclaims.nets.models import StackedCNN, StackedMLP
from nnclaims.train import engine, spectral
from nnclaims.train.engine import Arrays

toy = linear_toy  # 400 + 100 examples of a random linear task, 12 features by default


def test_shapes_and_parameter_count():
    m = StackedMLP([0, 1, 2], d_in=40, depth=2, width=100, d_out=10, activation=["relu"])
    assert m(torch.randn(3, 7, 40)).shape == (3, 7, 10)
    per_model = 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    assert sum(p.numel() for p in m.parameters()) == 3 * per_model
    assert m.n_weights() == 40 * 100 + 100 * 100 + 100 * 10


def test_model_k_of_a_stack_equals_a_stack_of_one():
    big = StackedMLP([3, 7, 9], 12, 2, 16, 4, ["swish"])
    one = StackedMLP([7], 12, 2, 16, 4, ["swish"])
    for wb, wo in zip(big.weights, one.weights):
        assert torch.equal(wb[1], wo[0])


def test_same_seed_same_results():
    d = toy()
    runs = [
        engine.train_classifier(StackedMLP([0, 1], 12, 2, 16, 4, ["relu"]), d, 3, 50, 1e-2)
        for _ in range(2)
    ]
    for key in ("train_loss", "test_loss", "test_acc"):
        assert np.array_equal(runs[0][key], runs[1][key])
    assert not np.array_equal(runs[0]["test_loss"][:, 0], runs[0]["test_loss"][:, 1])


def test_cnn_shapes_match_mnist1d_convbase():
    m = StackedCNN([0, 1], d_in=40, depth=3, width=25, d_out=10, activation=["relu"])
    assert m(torch.randn(2, 7, 40)).shape == (2, 7, 10)
    # ConvBase: conv(1→25, k5) + conv(25→25, k3) ×2 + linear(125→10), with biases
    per_model = (5 * 25 + 25) + 2 * (75 * 25 + 25) + (125 * 10 + 10)
    assert sum(p.numel() for p in m.parameters()) == 2 * per_model


@pytest.mark.parametrize("activation", [["relu"], ["tanh", "relu"]])
def test_cnn_equals_torch_conv1d_forward_and_gradients(activation):
    """The stacked CNN (batch-last layout, hand-written conv backward) against torch's Conv1d:
    same outputs and same weight gradients, per model, in float64."""
    m = StackedCNN([0, 1], 40, 3, 6, 3, activation, dtype=torch.float64)
    x = torch.randn(2, 4, 40, dtype=torch.float64)
    m(x).square().sum().backward()
    for k in range(2):
        ws = [w[k].detach().clone().requires_grad_() for w in m.weights]
        bs = [b[k].detach().clone().requires_grad_() for b in m.biases]
        h = x[k].unsqueeze(1)  # (B, C=1, L)
        for i, (kernel, stride, pad) in enumerate(m.convs):
            w = ws[i].view(kernel, -1, 6).permute(2, 1, 0)  # (tap·C_in, C_out) → (C_out, C_in, tap)
            h = torch.nn.functional.conv1d(h, w, bs[i][0], stride=stride, padding=pad)
            # a within-layer mix splits channels: apply it channels-last
            h = m.acts[i](h.transpose(1, 2).unsqueeze(0).expand(2, -1, -1, -1))[k].transpose(1, 2)
        want = h.flatten(1) @ ws[-1].T + bs[-1].T  # Conv1d's (C, L) flatten; head stored (out, in)
        torch.testing.assert_close(m(x)[k], want, rtol=0, atol=1e-12)
        want.square().sum().backward()
        for ours, ref in zip([*m.weights, *m.biases], [*ws, *bs]):
            torch.testing.assert_close(ours.grad[k], ref.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("model", [StackedMLP, StackedCNN])
@pytest.mark.parametrize("activation", [["relu"], ["relu", "swish_beta", "tanh", "hat"]])
def test_stacked_training_equals_one_at_a_time_float64(model, activation):
    d = toy(d=40, dtype=torch.float64)
    seeds = [0, 1, 2]
    shape = (seeds, 40, 2, 16, 4, activation)
    together = model(*shape, dtype=torch.float64)
    masks = pruning.random_masks_like(
        pruning.prune_by_magnitude(
            list(together.weights),
            [torch.ones_like(w) for w in together.weights],
            [0.5] * len(together.weights),
        ),
        [11, 12, 13],
    )
    together.set_masks(masks)
    h_all = engine.train_classifier(together, d, 3, 50, 1e-2)
    for i, s in enumerate(seeds):
        alone = model([s], *shape[1:], dtype=torch.float64)
        alone.set_masks([m[i : i + 1] for m in masks])
        h_one = engine.train_classifier(alone, d, 3, 50, 1e-2)
        np.testing.assert_allclose(
            h_all["test_loss"][:, i], h_one["test_loss"][:, 0], rtol=0, atol=1e-10
        )
        for wa, wo in zip(together.weights, alone.weights):
            np.testing.assert_allclose(wa[i].detach().numpy(), wo[0].detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "swish", "max_sigmoid"])
def test_cnn_activation_in_place_equals_channels_last_bit_for_bit(activation):
    """An elementwise activation runs on the CNN's (K, C, L, B) layout as it is; a within-layer
    mix needs channels last. Both paths give the same outputs and gradients, bit for bit."""
    torch.manual_seed(0)
    x = torch.randn(3, 50, 40)
    y = torch.randint(0, 10, (3, 50))
    out = []
    for mixes in (False, True):
        m = StackedCNN([0, 1, 2], 40, 3, 25, 10, [activation])
        assert m.mixes == [False] * 3
        m.mixes = [mixes] * 3  # force the channels-last path
        loss = engine._per_model_ce(m.logits_cb(x), y).sum()
        loss.backward()
        out.append([loss.detach()] + [p.grad for p in m.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*out))


def test_scoring_held_out_sets_only_at_the_end_changes_no_number():
    """eval_every (the searches score their last epoch only): training is untouched, the last
    epoch's numbers are the same, the skipped epochs are NaN."""
    d = linear_toy(n=200, d=10, classes=2, seed=1)
    runs = []
    for every in (1, 4):
        m = StackedMLP([0, 1], 10, 2, 16, 2, ["swish"])
        runs.append(engine.train_classifier(m, d, 4, 20, 0.01, eval_every=every))
    full, last = runs
    assert np.array_equal(full["train_loss"], last["train_loss"])
    assert np.array_equal(full["test_acc"][-1], last["test_acc"][-1])
    assert np.isnan(last["test_acc"][:-1]).all()


def test_masked_weights_stay_zero_and_get_no_gradient():
    d = toy()
    m = StackedMLP([0], 12, 1, 8, 4, ["relu"])
    masks = [torch.ones_like(w) for w in m.weights]
    masks[0][0, :6] = 0
    m.set_masks(masks)
    engine.train_classifier(m, d, 2, 50, 1e-2)
    assert torch.all(m.weights[0][0, :6] == 0)


def test_divergence_is_recorded_not_raised():
    d = toy()
    m = StackedMLP([0, 1], 12, 2, 16, 4, ["relu"])
    with torch.no_grad():  # make model 0 produce NaN from the first step
        m.weights[0][0].fill_(float("nan"))
    h = engine.train_classifier(m, d, 2, 50, 1e-2)
    assert h["diverged_epoch"][0] == 1
    assert h["diverged_epoch"][1] == 0
    assert np.isfinite(h["train_loss"][:, 1]).all()


def test_spectral_ratio_of_a_pure_sine():
    freqs, amps = np.array([5.0, 10.0]), np.array([1.0, 0.5])
    _, y = spectral.sines_target(0, freqs, amps, 200)
    r = spectral.spectrum_ratio(y[None, :], freqs, amps)
    np.testing.assert_allclose(r, [[1.0, 1.0]], atol=1e-9)


def test_stacked_adam_equals_torch_fused_adam_per_model_bit_for_bit_and_resumes():
    """Each model of the stack steps exactly as torch.optim.Adam(fused=True) steps that model's
    own tensors (the kernel sees one view per model), with its own lr, across a save and
    restore."""
    from nnclaims.train.optim import StackedAdam

    g = torch.Generator().manual_seed(0)
    lrs = [3e-3, 1e-2, 3e-3]
    w0 = [torch.randn(3, 5, 4, generator=g), torch.randn(3, 1, 4, generator=g)]
    grads = [[torch.randn(w.shape, generator=g) for w in w0] for _ in range(6)]
    refs = [[w[k].clone().requires_grad_() for w in w0] for k in range(3)]
    torch_opts = [torch.optim.Adam(r, lr=lr, fused=True) for r, lr in zip(refs, lrs)]
    ours = [w.clone().requires_grad_() for w in w0]
    opt = StackedAdam(ours, lrs)
    for step, gs in enumerate(grads):
        if step == 3:  # a restart from the saved state goes on exactly
            state = opt.state_dict()
            ours = [w.detach().clone().requires_grad_() for w in ours]
            opt = StackedAdam(ours, [1.0] * 3)
            opt.load_state_dict(state)
        for k, (ref, topt) in enumerate(zip(refs, torch_opts)):
            for p, gr in zip(ref, gs):
                p.grad = gr[k].clone()
            topt.step()
        for q, gr in zip(ours, gs):
            q.grad = gr.clone()
        opt.step()
    for k in range(3):
        for p, q in zip(refs[k], ours):
            assert torch.equal(p, q[k])


def test_per_model_learning_rates_equal_separate_runs():
    d = toy(dtype=torch.float64)
    lrs = [1e-3, 3e-3, 1e-2]
    together = StackedMLP([5, 5, 5], 12, 2, 16, 4, ["swish_beta"], dtype=torch.float64)
    h_all = engine.train_classifier(together, d, 2, 50, lrs)
    for i, lr in enumerate(lrs):
        alone = StackedMLP([5], 12, 2, 16, 4, ["swish_beta"], dtype=torch.float64)
        h_one = engine.train_classifier(alone, d, 2, 50, [lr])
        np.testing.assert_allclose(h_all["test_loss"][:, i], h_one["test_loss"][:, 0], atol=1e-10)
    assert len(set(np.round(h_all["test_loss"][-1], 6))) == 3  # the lrs really differed


@pytest.mark.parametrize("model", [StackedMLP, StackedCNN])
def test_different_arms_in_one_stack_equal_separate_runs(model):
    d = toy(d=40, dtype=torch.float64)
    arms = [["relu"], ["relu"], ["hat"], ["swish_beta"], ["relu", "tanh"]]
    seeds = [0, 1, 0, 0, 0]
    together = model(seeds, 40, 2, 8, 4, arms, dtype=torch.float64)
    h_all = engine.train_classifier(together, d, 2, 50, 1e-2)
    for i, (s, arm) in enumerate(zip(seeds, arms)):
        alone = model([s], 40, 2, 8, 4, arm, dtype=torch.float64)
        h_one = engine.train_classifier(alone, d, 2, 50, 1e-2)
        np.testing.assert_allclose(h_all["test_loss"][:, i], h_one["test_loss"][:, 0], atol=1e-10)


@pytest.mark.parametrize(
    "length,c_in,kernel,stride,pad",
    [(40, 1, 5, 2, 1), (9, 2, 3, 2, 1), (7, 2, 3, 1, 0), (9, 2, 4, 3, 2)],
)
def test_stacked_conv_matches_torch_and_gradcheck(length, c_in, kernel, stride, pad):
    """Hand-written stacked conv (batch last) = torch's conv1d per model, and its backward
    passes torch's numerical gradient check, for several strides, paddings and kernels."""
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, c_in, length, 3, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(2, kernel * c_in, 4, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(2, 1, 4, dtype=torch.float64, generator=g, requires_grad=True)
    out = stacked_ops.conv1d(h, w, b, kernel, stride, pad)
    for k in range(2):
        ref = torch.nn.functional.conv1d(
            h[k].permute(2, 0, 1),
            w[k].view(kernel, c_in, 4).permute(2, 1, 0),
            b[k, 0],
            stride=stride,
            padding=pad,
        )
        torch.testing.assert_close(out[k], ref.permute(1, 2, 0), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda h, w, b: stacked_ops.conv1d(h, w, b, kernel, stride, pad), (h, w, b)
    )
    x = torch.randn(2, 5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    wh = torch.randn(2, 3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    bh = torch.randn(2, 3, 1, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(stacked_ops.head, (x, wh, bh))


def _plain_loop(d: Arrays, seed: int, epochs: int, batch: int, lr: float) -> float:
    """The textbook loop, one nn.Module model at a time: final test accuracy in %."""
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = d.x_train.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(n // batch):
            idx = perm[i * batch : (i + 1) * batch]
            loss = torch.nn.functional.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((model(d.x_test).argmax(1) == d.y_test).float().mean() * 100)


def test_float32_stack_matches_plain_loop_as_a_distribution_over_seeds():
    """In float32 stacked and one-at-a-time training drift apart in the last bits, so they are
    compared as distributions: 12 seeds of the engine (one stack) against 12 seeds of the plain
    nn.Module loop (its own init draws and batch orders), final test accuracy."""
    d = toy(n=600, seed=3)
    seeds = list(range(12))
    ours = engine.train_classifier(StackedMLP(seeds, 12, 2, 16, 4, ["relu"]), d, 15, 50, 1e-2)
    ours = ours["test_acc"][-1]
    plain = np.array([_plain_loop(d, s, 15, 50, 1e-2) for s in seeds])
    assert plain.mean() > 80  # the task is learnt at all, so the comparison means something
    # equal means within the seed spread: |Δmean| below 2 standard errors of the difference
    se = np.sqrt(ours.var(ddof=1) / len(ours) + plain.var(ddof=1) / len(plain))
    assert abs(ours.mean() - plain.mean()) < 2 * se + 0.5, (ours.mean(), plain.mean(), se)
    assert 0.5 < ours.std(ddof=1) / max(plain.std(ddof=1), 1e-9) < 2  # similar spread
    # and the same seeds in one stack or in stacks of one agree closely, seed by seed
    alone = [
        engine.train_classifier(StackedMLP([s], 12, 2, 16, 4, ["relu"]), d, 15, 50, 1e-2)
        for s in seeds[:4]
    ]
    np.testing.assert_allclose([a["test_acc"][-1, 0] for a in alone], ours[:4], atol=1.0)
