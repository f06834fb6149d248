"""Kind "lottery": the MNIST-1D paper's lottery-ticket experiment, as its repository ran it
(greydanus/mnist1d notebooks/lottery-tickets.ipynb), the anchor for Sparse vs dense.

A 40-500-500-10 MLP with a residual second layer (the repository's MLPBase) trains 1501 Adam
steps at 2e-2 on batches of 100 in the data's order, and is scored on test after the last step.
Round i prunes every layer's weights *and biases* to sparsity i / (rounds − 1) (0 → 1 in
`rounds` rounds; the output layer at the same rate), by magnitude of the previous round's final
values, and resets the survivors to θ0. The control draws random scores at each sparsity from
the same θ0 (a fresh random mask every round, as the notebook's `torch.rand` criterion).
Rows: arm lottery_dense (round 0), lottery and lottery_random (level: the fraction of weights
and biases left); `epoch` counts optimizer steps.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nnclaims.core import catalog
from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind

if TYPE_CHECKING:
    import pandas as pd

    from nnclaims.core.setup import Setup

log = logging.getLogger(__name__)

PARAMS = {
    "lottery_rounds": 100,  # sparsity 0 → 1 in this many rounds (the notebook: 100)
    "lottery_steps": 1501,  # Adam steps per round (the notebook: 1501)
    "lottery_eval": 100,  # steps between test scores (the notebook: 100)
    "random_at": (),  # sparsities of the random control; empty: every round's
}


def sparsities(rounds: int) -> list[float]:
    """The notebook's schedule, np.linspace(0, 1, rounds)."""
    import numpy as np

    return [float(p) for p in np.linspace(0.0, 1.0, rounds)]


def random_rounds(rounds: int, random_at) -> list[int]:
    """The rounds (≥ 1) whose sparsity the random control trains at: the nearest round to each
    of `random_at`, or every pruned round."""
    ps = [i / (rounds - 1) for i in range(rounds)]  # sparsities(), without numpy
    if not random_at:
        return list(range(1, rounds))
    return sorted({min(range(rounds), key=lambda i: abs(ps[i] - q)) for q in random_at} - {0})


def stack(spec: RunSpec, d_in: int, d_out: int, trials: list[int], dtype=None):
    """Each trial's MLPBase from its θ0 (the trial's "init" stream; a random control of the same
    trial starts from the same θ0)."""
    import torch

    from nnclaims.core import seeding
    from nnclaims.nets import models

    init = [seeding.derive_seed(t, "init") for t in trials]
    dtype = torch.float32 if dtype is None else dtype
    return models.StackedResMLP(
        trials, d_in, 2, spec.width, d_out, ["relu"], init_seeds=init, dtype=dtype
    )


def layer_masks(params: list, sparsity: float, scores=None) -> list:
    """Per model and layer, keep all but int(sparsity · n) of the layer's n weights and biases:
    those of lowest |value| (magnitude), or of lowest `scores` (random). `params`: per layer
    (weight, bias), model axis first; returns (weight masks, bias masks)."""
    import torch

    wm, bm = [], []
    for i, (w, b) in enumerate(params):
        k = w.shape[0]
        flat = torch.cat([w.reshape(k, -1), b.reshape(k, -1)], dim=1)
        s = flat.abs() if scores is None else scores[i]
        drop = int(sparsity * flat.shape[1])
        keep = torch.ones_like(flat)
        if drop:
            keep.scatter_(1, torch.argsort(s, dim=1, stable=True)[:, :drop], 0.0)
        wm.append(keep[:, : w[0].numel()].reshape(w.shape))
        bm.append(keep[:, w[0].numel() :].reshape(b.shape))
    return wm, bm


def train_round(model, arrays, spec: RunSpec) -> dict:
    """`lottery_steps` Adam steps on batches in the data's order (batch i: examples 100 i …
    mod n), every model on the same batch; test loss and accuracy after step 0, every
    `lottery_eval` steps and the last. Returns per-eval arrays (E, K) and the steps scored."""
    import numpy as np
    import torch
    from torch.nn import functional as F

    from nnclaims.train import loop_state, optim

    k, n, bs = model.n_models, arrays.x_train.shape[0], spec.batch_size
    opt = optim.make_optimizer(model.parameters(), spec.lr)
    div = loop_state.Divergence(model.seeds)
    x_te = arrays.x_test.unsqueeze(0).expand(k, -1, -1)
    out = {"step": [], "train_loss": [], "test_loss": [], "test_acc": []}
    running, count = torch.zeros(k, dtype=torch.float64), 0
    for step in range(spec.lottery_steps):
        a = (step * bs) % n
        xb = arrays.x_train[a : a + bs].unsqueeze(0).expand(k, -1, -1)
        yb = arrays.y_train[a : a + bs].unsqueeze(0).expand(k, -1)
        losses = F.cross_entropy(model.logits_cb(xb), yb, reduction="none").mean(dim=1)
        with torch.no_grad():
            div.check(losses, step + 1)
            running += losses.detach().double()
            count += 1
        opt.zero_grad(set_to_none=True)
        torch.where(div.alive, losses, torch.zeros_like(losses)).sum().backward()
        opt.step()
        if step % spec.lottery_eval == 0 or step == spec.lottery_steps - 1:
            with torch.no_grad():
                logits = model.logits_cb(x_te)
                y = arrays.y_test.unsqueeze(0).expand(k, -1)
                loss = F.cross_entropy(logits, y, reduction="none").mean(dim=1).double()
                acc = (logits.argmax(dim=1) == y).double().mean(dim=1) * 100
            loss[~div.alive], acc[~div.alive] = float("nan"), float("nan")
            out["step"].append(step + 1)  # optimizer steps taken
            out["train_loss"].append((running / count).numpy())
            out["test_loss"].append(loss.numpy())
            out["test_acc"].append(acc.numpy())
            running, count = torch.zeros(k, dtype=torch.float64), 0
    hist = {m: np.stack(v) for m, v in out.items() if m != "step"}
    hist["diverged_epoch"] = div.epoch
    return hist, np.asarray(out["step"])


def _params(model) -> list:
    return [(w.detach(), b.detach()) for w, b in zip(model.weights, model.biases)]


def run_lottery(spec: RunSpec, arrays, ckpt_dir=None, weights_out=None) -> pd.DataFrame:
    """Every round in order; round r's stack holds the trials' tickets, and their random
    controls where the control trains at r. Checkpointed after every round."""
    import numpy as np
    import pandas as pd
    import torch

    from nnclaims.core import seeding
    from nnclaims.train import checkpoint as ckpt
    from nnclaims.train import progress, weights

    trials, d_in, d_out = list(spec.seeds), arrays.x_train.shape[1], arrays.n_classes
    t, dt = len(trials), arrays.x_train.dtype
    theta0 = stack(spec, d_in, d_out, trials, dt).state_dict()
    total = sum(w[0].numel() + b[0].numel() for w, b in _params(stack(spec, d_in, d_out, [0], dt)))
    ps = sparsities(spec.lottery_rounds)
    rand = set(random_rounds(spec.lottery_rounds, spec.random_at))
    path = None if ckpt_dir is None else ckpt_dir / "lottery.pt"
    state = ckpt.load(path, "lottery") or {"done": [], "final": None}
    done, final = list(state["done"]), state["final"]
    model = None
    bar = progress.Progress(ckpt_dir, "lottery", len(ps), len(done), t, unit="round")
    for r in range(len(done), len(ps)):
        ticket = stack(spec, d_in, d_out, trials, dt)
        ticket.load_state_dict(theta0)
        wm, bm = layer_masks(_params(ticket) if final is None else final, ps[r])
        ids = trials + (trials if r in rand else [])
        model = stack(spec, d_in, d_out, ids, dt)  # the controls of trial t start from its θ0
        if r in rand:
            g = [seeding.generator(x, "lottery_mask", r) for x in trials]
            scores = [
                torch.stack([torch.rand(w[0].numel() + b[0].numel(), generator=gi) for gi in g])
                for w, b in _params(ticket)
            ]
            rw, rb = layer_masks(_params(ticket), ps[r], scores)
            wm = [torch.cat([a, c]) for a, c in zip(wm, rw)]
            bm = [torch.cat([a, c]) for a, c in zip(bm, rb)]
        model.set_masks(wm)
        model.set_bias_masks(bm)
        hist, steps = train_round(model, arrays, spec)
        kept = sum(m.reshape(len(ids), -1).sum(1) for m in [*wm, *bm]).double()
        arm = "lottery_dense" if r == 0 else "lottery"
        arms = [arm] * t + ["lottery_random"] * (len(ids) - t)
        final = [(w[:t].clone(), b[:t].clone()) for w, b in _params(model)]
        done.append(
            {
                "hist": {m: torch.as_tensor(v) for m, v in hist.items()},
                "steps": torch.as_tensor(steps),
                "kept": kept,
                "arms": arms,
                "seeds": ids,
            }
        )
        if path is not None:
            ckpt.save(path, "lottery", {"done": done, "final": final})
        acc = float(np.nanmean(hist["test_acc"][-1][:t]))
        log.info(
            "sparsity %.3f: %s",
            ps[r],
            bar.update(r + 1, float(np.nanmean(hist["train_loss"][-1])), acc),
        )
    if weights_out is not None and model is not None:  # the last round's models
        states = weights.model_states(model, range(model.n_models))
        weights.save(weights_out, states, [{"seed": s} for s in model.seeds], spec.run_id)
    return pd.concat([_rows(spec, d, total) for d in done], ignore_index=True)


def _rows(spec: RunSpec, d: dict, total: int) -> pd.DataFrame:
    from nnclaims.train import tidy

    hist = {m: v.numpy() for m, v in d["hist"].items()}
    kept = d["kept"].numpy()
    df = tidy.from_history(spec, hist, list(d["seeds"]), kept / total, list(d["arms"]), kept=kept)
    steps = d["steps"].numpy()
    df["epoch"] = steps[df["epoch"].to_numpy() - 1]  # evaluation i → the steps taken by then
    return df


def job(spec: RunSpec, job: Job):
    return run_lottery(spec, job.arrays, job.ckpt_dir, job.weights_out), None


def plan(setup: Setup) -> list[RunSpec]:
    """One run per dataset of the block (default MNIST-1D), on the claim's own setup only."""
    b = setup.c["lottery"]
    if setup.tag or setup.train["dataset"] not in b.get("datasets", ["mnist1d"]):
        return []
    return [
        RunSpec(
            "lottery",
            "lottery",
            ("relu",),
            dataset=setup.train["dataset"],
            model="mlp_res",
            width=b.get("width", 500),
            lr=b.get("lr", 0.02),
            batch_size=b.get("batch_size", 100),
            shuffle=False,
            seeds=tuple(range(b.get("trials", 2))),
            lottery_rounds=b.get("rounds", 100),
            lottery_steps=b.get("steps", 1501),
            lottery_eval=b.get("eval_every", 100),
            random_at=tuple(b.get("random_at", ())),
        )
    ]


def model_rounds(spec: RunSpec) -> int:
    return len(spec.seeds) * (
        spec.lottery_rounds + len(random_rounds(spec.lottery_rounds, spec.random_at))
    )


def work(spec: RunSpec) -> float:
    """Model-epochs in units of the 100-wide MNIST-1D MLP's (15,000 weights; resources.RATE):
    a round of 1501 steps of the 500-wide net costs ~18 of its epochs per 37.5."""
    n_train = catalog.EMBEDDED_SHAPES.get(spec.dataset, ((), 4000, 0))[1]
    w = spec.width
    size = (40 * w + w * w + w * 10) / 15000
    return model_rounds(spec) * spec.lottery_steps * spec.batch_size / n_train * size


def describe(runs: list[dict]) -> str:
    r = runs[0]
    rand = random_rounds(r["lottery_rounds"], r.get("random_at", ()))
    where = (
        "every round"
        if len(rand) == r["lottery_rounds"] - 1
        else ("sparsity " + ", ".join(f"{sparsities(r['lottery_rounds'])[i]:.2f}" for i in rand))
    )
    return (
        f"the MNIST-1D paper's lottery experiment: MLP 40-{r['width']}-{r['width']}-10 with a "
        f"residual second layer, weights and biases pruned per layer to sparsity 0 → 1 in "
        f"{r['lottery_rounds']} rounds, each {r['lottery_steps']} Adam steps at {r['lr']:g} on "
        f"batches of {r['batch_size']} in the data's order, survivors reset to θ0; random "
        f"masks from θ0 at {where}; {len(r['seeds'])} trials; test accuracy after the last step"
    )


KIND = Kind(
    "lottery",
    job,
    doc="the MNIST-1D paper's lottery-ticket experiment (weights and biases pruned, 0 → 1)",
    params=PARAMS,
    block="lottery",
    plan=plan,
    order=45,
    row_arms=lambda spec: ["lottery_dense", "lottery", "lottery_random"],
    priority=10,  # one long chain of rounds: start it first
    work=work,
    flops=lambda spec, per_example, n_train: (
        per_example * spec.batch_size * spec.lottery_steps * model_rounds(spec)
    ),
    describe=describe,
    family=False,
    seed_unit="trial",
    streams=("lottery_mask",),
)
