"""Kind "lottery" against the MNIST-1D repository's own lottery-ticket code: its
SparseLinear / SparseMLP, get_mask and find_lottery_ticket (notebooks/lottery-tickets.ipynb) and
its train_model loop (notebooks/train.py), copied below with float64 layers. From the same θ0
every round's test loss and accuracy agree; a different sparsity schedule does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnclaims import cli
from nnclaims.core.hparams import RunSpec
from nnclaims.data.datasets import linear_toy
from nnclaims.kinds import lottery
from nnclaims.plan import runs as plan

F64 = torch.float64
D_IN, WIDTH, CLASSES, BATCH = 12, 16, 4, 50


# ---------------------------------------------------------------------------------------------
# The repository's code (float64 layers; its training loop reduced to what a round records)


class SparseLinear(torch.nn.Module):
    def __init__(self, x_size, y_size):
        super().__init__()
        self.linear = torch.nn.Linear(x_size, y_size, dtype=F64)
        param_vec = torch.cat([p.flatten() for p in self.parameters()])
        self.mask = torch.ones_like(param_vec)

    def forward(self, x, apply_mask=True):
        if apply_mask:
            self.apply_mask()
        return self.linear(x)

    def update_mask(self, new_mask):
        self.mask = new_mask
        self.apply_mask()

    def apply_mask(self):
        self.vec2param(self.param2vec())

    def param2vec(self):
        vec = torch.cat([p.flatten() for p in self.parameters()])
        return self.mask * vec

    def vec2param(self, vec):
        pointer = 0
        for param in self.parameters():
            param_len = np.cumprod(param.shape)[-1]
            new_param = vec[pointer : pointer + param_len].reshape(param.shape)
            param.data = new_param.data
            pointer += param_len


class SparseMLP(torch.nn.Module):
    def __init__(self, input_size, output_size, hidden_size=100):
        super().__init__()
        self.linear1 = SparseLinear(input_size, hidden_size)
        self.linear2 = SparseLinear(hidden_size, hidden_size)
        self.linear3 = SparseLinear(hidden_size, output_size)
        self.layers = [self.linear1, self.linear2, self.linear3]

    def forward(self, x):
        h = torch.relu(self.linear1(x))
        h = h + torch.relu(self.linear2(h))
        return self.linear3(h)

    def set_layer_masks(self, new_masks):
        for i, layer in enumerate(self.layers):
            layer.update_mask(new_masks[i])

    def get_layer_vecs(self):
        return [layer.param2vec() for layer in self.layers]

    def set_layer_vecs(self, vecs):
        for i, layer in enumerate(self.layers):
            layer.vec2param(vecs[i])


def get_mask(scores, percent_sparse):
    num_to_drop = int(percent_sparse * len(scores))
    ixs_to_drop = torch.sort(scores)[1][:num_to_drop]
    mask = torch.ones_like(scores)
    mask[ixs_to_drop] = 0
    return mask


def train_model(data, model, steps, lr, eval_every):
    """train.py's train_model: Adam, batch i = examples [i·B, (i+1)·B) mod N, test scored after
    the step whenever step % eval_every == 0; returns the test losses and accuracies."""
    optimizer = torch.optim.Adam(model.parameters(), lr)
    losses, accs = [], []
    for step in range(steps):
        bix = (step * BATCH) % len(data.x_train)
        x, y = data.x_train[bix : bix + BATCH], data.y_train[bix : bix + BATCH]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % eval_every == 0 or step == steps - 1:
            with torch.no_grad():
                out = model(data.x_test)
                losses.append(torch.nn.functional.cross_entropy(out, data.y_test).item())
                accs.append(100 * (out.argmax(-1) == data.y_test).double().mean().item())
    return losses, accs


def find_lottery_ticket(model, data, schedule, steps, lr, eval_every):
    """The notebook's loop with its default magnitude criterion."""
    init_params = model.get_layer_vecs()
    out = []
    for percent_sparse in schedule:
        final_params = model.get_layer_vecs()
        masks = [get_mask(fp.abs(), percent_sparse) for fp in final_params]
        model.set_layer_vecs(init_params)
        model.set_layer_masks(masks)
        out.append(train_model(data, model, steps, lr, eval_every))
    return out


# ---------------------------------------------------------------------------------------------


def _spec(rounds=5, steps=24, random_at=()):
    return RunSpec("lottery", "lottery", ("relu",), dataset="digits", model="mlp_res",
                   width=WIDTH, lr=0.02, batch_size=BATCH, shuffle=False, seeds=(0,),
                   lottery_rounds=rounds, lottery_steps=steps, lottery_eval=10,
                   random_at=random_at)  # fmt: skip


def _reference(spec, data, schedule):
    ours = lottery.stack(spec, D_IN, CLASSES, [0], F64)
    net = SparseMLP(D_IN, CLASSES, WIDTH)
    with torch.no_grad():  # θ0 from our stack; the head is stored (out, in) already
        for i, layer in enumerate(net.layers):
            w, b = ours.weights[i][0], ours.biases[i][0]
            layer.linear.weight.copy_(w if i == 2 else w.T)
            layer.linear.bias.copy_(b.reshape(-1))
    return find_lottery_ticket(net, data, schedule, spec.lottery_steps, spec.lr, 10)


def test_lottery_rounds_are_the_mnist1d_repository_code():
    data = linear_toy(n=300, d=D_IN, classes=CLASSES, dtype=F64, seed=4)
    spec = _spec()
    df = lottery.run_lottery(spec, data)
    ref = _reference(spec, data, np.linspace(0, 1, 5))
    for r, (loss, acc) in enumerate(ref):
        arm = "lottery_dense" if r == 0 else "lottery"
        level = sorted(df[df.arm == arm].level.unique(), reverse=True)[0 if r < 2 else r - 1]
        got = df[(df.arm == arm) & np.isclose(df.level, level)]
        got_loss = got[got.metric == "test_loss"].sort_values("epoch")["value"].to_numpy()
        got_acc = got[got.metric == "test_acc"].sort_values("epoch")["value"].to_numpy()
        if r == 4:  # sparsity 1: nothing left; the output is 0, every class ties
            assert got[got.metric == "weights_kept"]["value"].item() == 0
            continue
        np.testing.assert_allclose(got_loss, loss, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_acc, acc, rtol=0, atol=1e-9)
    steps = sorted(df[df.metric == "test_acc"].epoch.unique())
    assert steps == [1, 11, 21, 24]  # after step 0, every 10 steps and the last
    # the count of weights and biases left is the notebook's int(p · n) per layer
    n = [D_IN * WIDTH + WIDTH, WIDTH * WIDTH + WIDTH, WIDTH * CLASSES + CLASSES]
    kept = df[df.metric == "weights_kept"].groupby("level")["value"].first()
    assert sorted(kept, reverse=True) == [
        sum(k - int(p * k) for k in n) for p in np.linspace(0, 1, 5)
    ]
    # a different schedule (4 rounds, not 5) is a different run: the check has teeth
    other = _reference(spec, data, np.linspace(0, 1, 4))
    assert not np.allclose(other[1][0], ref[1][0], atol=1e-6)


def test_random_control_has_a_fresh_mask_of_the_tickets_counts():
    data = linear_toy(n=300, d=D_IN, classes=CLASSES, dtype=F64, seed=4)
    spec = _spec(rounds=5, steps=4, random_at=(0.5, 0.75))
    df = lottery.run_lottery(spec, data)
    kept = df[df.metric == "weights_kept"]
    lot = sorted(kept[kept.arm == "lottery"].level.unique(), reverse=True)  # sparsity .25 … 1
    rand = kept[kept.arm == "lottery_random"]
    assert sorted(rand.level.unique(), reverse=True) == lot[1:3]  # at .5 and .75: same counts
    assert lottery.random_rounds(5, (0.5, 0.75)) == [2, 3]
    assert lottery.random_rounds(100, (0.95, 0.97)) == [94, 96]  # the notebook's "0.95", "0.97"
    assert lottery.random_rounds(4, ()) == [1, 2, 3]
    # the mask is random, not the ticket's, and a layer keeps exactly the asked count
    w = [(torch.randn(2, 6, 5, dtype=F64), torch.randn(2, 1, 5, dtype=F64))]
    scores = [torch.rand(2, 35, generator=torch.Generator().manual_seed(0))]
    (rw,), (rb,) = lottery.layer_masks(w, 0.4, scores)
    (mw,), (mb,) = lottery.layer_masks(w, 0.4)
    assert rw.sum() + rb.sum() == mw.sum() + mb.sum() == 2 * (35 - 14)
    assert not torch.equal(rw, mw)


def test_the_default_run_and_the_profile_plan_the_same_run_the_profile_trains_it():
    """The default copies the run's seeds from its seed archive (tests/test_archive.py checks
    them); the profile turns the archive off, so it trains the same run."""
    default = cli.load_config("config/config.yaml", None, None)
    cfg = cli.load_config("config/lottery.yaml", None, None)
    assert default["seed_archive"] and cfg["seed_archive"] is None
    runs = [s for s in plan.make_plan(cfg).runs.values() if s.kind == "lottery"]
    assert runs == [s for s in plan.make_plan(default).runs.values() if s.kind == "lottery"]
    (s,) = runs
    assert (s.width, s.lr, s.lottery_rounds, s.lottery_steps, s.shuffle) == (
        500,
        0.02,
        100,
        1501,
        False,
    )
    assert s.model == "mlp_res" and len(s.seeds) == 5 and s.dataset == "mnist1d"
    with pytest.raises(ValueError, match="lottery"):
        RunSpec("classify", "relu", ("relu",), lottery_rounds=3)


def test_an_interrupted_lottery_run_resumes_after_its_last_round(tmp_path, monkeypatch):
    """A job killed in round 3 restarts at round 3 from the checkpoint written after round 2:
    its rows equal those of an uninterrupted run."""
    data = linear_toy(n=300, d=D_IN, classes=CLASSES, dtype=F64, seed=4)
    spec = _spec(rounds=5, steps=12, random_at=(0.5,))
    want = lottery.run_lottery(spec, data)
    real, seen = lottery.train_round, {"rounds": 0}

    class Interrupt(Exception):
        pass

    def dies(*a, **k):
        seen["rounds"] += 1
        if seen["rounds"] == 4:
            raise Interrupt
        return real(*a, **k)

    monkeypatch.setattr(lottery, "train_round", dies)
    with pytest.raises(Interrupt):
        lottery.run_lottery(spec, data, tmp_path)
    seen["rounds"] = -10  # counts on, never reaching 4 again
    got = lottery.run_lottery(spec, data, tmp_path)
    assert seen["rounds"] == -8  # rounds 3 and 4 only
    assert got.reset_index(drop=True).equals(want.reset_index(drop=True))
