"""Kind "classify": arms trained as one stack of K models, each at the learning rate its own
search picked on a validation split (never the test set), or at the fixed `lr`."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nnclaims.core.catalog import IMAGE_MODELS
from nnclaims.core.hparams import RunSpec, batch_key
from nnclaims.core.kind import Job, Kind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nnclaims.core.setup import Setup


log = logging.getLogger(__name__)
CPU = "cpu"


def arm_stack(specs: list[RunSpec], n_in, d_out: int, seeds_per_spec: list[list[int]]):
    """One stack for several arms of the same shape: each arm's models get its activation."""
    from nnclaims.kinds import common

    seeds = [x for ss in seeds_per_spec for x in ss]
    acts = [list(sp.activation) for sp, ss in zip(specs, seeds_per_spec) for _ in ss]
    # an image stack's members share one activation: its lr search stacks one arm's candidates
    one_image_arm = specs[0].model in IMAGE_MODELS and len({sp.activation for sp in specs}) == 1
    if len(specs) == 1 or one_image_arm:
        return common.stack(specs[0], n_in, d_out, seeds)
    return common.stack(
        dataclasses.replace(specs[0], activation=tuple(map(tuple, acts))), n_in, d_out, seeds
    )


def first_rates(spec: RunSpec) -> list[float]:
    """The rates a search trains first: the whole grid, or for a walk the three rates of the
    grid around `lr` (the run's default rate)."""
    import numpy as np

    grid = sorted(spec.lr_grid)
    if spec.lr_search != "walk":
        return grid
    c = int(np.argmin([abs(np.log(g / spec.lr)) for g in grid]))
    return grid[max(0, c - 1) : c + 2]


def next_rate(spec: RunSpec, tried: dict[float, np.ndarray], chance: float) -> float | None:
    """A walk's next rate: one grid step past the best rate tried while that rate is the
    smallest or the largest tried (the best may lie beyond it); None when the best is inside
    what was tried, at the grid's end, or the search tries the whole grid at once."""
    from nnclaims.kinds import common

    if spec.lr_search != "walk":
        return None
    grid = sorted(spec.lr_grid)
    rates = sorted(tried)
    best = max(rates, key=lambda lr: common.search_score(tried[lr], chance))  # ties: the smaller
    i = grid.index(best)
    if best == rates[0] and i > 0:
        return grid[i - 1]
    if best == rates[-1] and i < len(grid) - 1:
        return grid[i + 1]
    return None


def tune_lrs(specs: list[RunSpec], arrays, ckpt_dir: Path | None, device=CPU) -> list[pd.DataFrame]:
    """For each arm: candidate lrs × tune_seeds models, all arms in one stack (one lr per
    model), trained on the training part and scored on the validation part. A walk trains in
    rounds (first_rates, then next_rate per arm until none has one); a model's numbers do not
    depend on its stack-mates, so a walk's scores are the grid search's for the rates it tries.
    Returns each arm's val_acc rows (final validation accuracy per tried lr and seed; NaN where
    it diverged)."""
    import numpy as np
    import torch

    from nnclaims.kinds import common
    from nnclaims.train import checkpoint as ckpt
    from nnclaims.train import tidy

    seeds = common.tune_seeds(specs[0])
    chance = 100.0 / arrays.n_classes
    tried: list[dict[float, np.ndarray]] = [{} for _ in specs]
    state = ckpt.load(common.ckpt_file(ckpt_dir, "tune.pt"), "lr-search")
    if state is not None:  # rates as lists and scores as tensors: weights_only loads them
        tried = [dict(zip(r, v.numpy())) for r, v in zip(state["rates"], state["values"])]
    split = None
    for rnd in range(len(specs[0].lr_grid)):
        todo = [
            (i, lr)
            for i, sp in enumerate(specs)
            for lr in (first_rates(sp) if not tried[i] else [next_rate(sp, tried[i], chance)])
            if lr is not None and lr not in tried[i]
        ]
        if not todo:
            break
        split = split or common.validation_split(arrays, specs[0].val_fraction)
        model = arm_stack(
            [specs[i] for i, _ in todo], common.d_in(arrays), arrays.n_classes, [seeds] * len(todo)
        )
        lrs = [lr for _, lr in todo for _ in seeds]
        # one lr per model (StackedAdam): a model's numbers do not depend on its stack-mates
        hist = common.train(
            specs[0],
            model,
            split,
            ckpt_dir,
            device,
            "tune" if rnd == 0 else f"tune{rnd + 1}",
            lr=lrs,
            last_only=True,
        )
        final = np.where(hist["diverged_epoch"] > 0, np.nan, hist["test_acc"][-1])
        for j, (i, lr) in enumerate(todo):
            tried[i][lr] = final[j * len(seeds) : (j + 1) * len(seeds)]
        if ckpt_dir is not None:
            rates = [sorted(t) for t in tried]
            values = [torch.as_tensor(np.array([t[lr] for lr in r])) for t, r in zip(tried, rates)]
            ckpt.save(ckpt_dir / "tune.pt", "lr-search", {"rates": rates, "values": values})
            ckpt.clear(ckpt_dir / "train.pt")
    return [
        tidy.val_rows(
            spec,
            [s for _ in t for s in seeds],
            [lr for lr in sorted(t) for _ in seeds],
            np.concatenate([t[lr] for lr in sorted(t)]),
        )
        for spec, t in zip(specs, tried)
    ]


def pick_lr(spec: RunSpec, val: pd.DataFrame, chance: float) -> float:
    """The lr with the best search score on the validation split (the smaller on a tie)."""
    from nnclaims.kinds import common

    grid = sorted(val["lr"].unique())
    score = {
        lr: common.search_score(val[val["lr"] == lr]["value"].to_numpy(), chance) for lr in grid
    }
    best = max(grid, key=lambda lr: score[lr])  # max keeps the first (smaller) on ties
    scores = ", ".join(f"{k:g}: {v:.2f}" for k, v in score.items())
    log.info("%s lr search {%s}: best %g", spec.arm, scores, best)
    return float(best)


def shared_rate(specs: list[RunSpec], tuned, arrays, ckpt_dir, device):
    """`lr_from`: one rate for every arm, the one the reference activation validates (its own
    lr search, as any arm's); each run keeps that search's validation rows (they chose its
    rate), under its own arm. A stored search (replicates) is reused."""
    base = specs[0]
    stored = next((t for t in tuned if t is not None), None)
    if stored is None:
        ref = dataclasses.replace(
            base, arm=base.lr_from, activation=(base.lr_from,), layer_acts=(), lr_from=""
        )
        stored = tune_lrs([ref], arrays, ckpt_dir, device)[0]
    lr = pick_lr(base, stored, 100.0 / arrays.n_classes)
    log.info("shared rate: %g, the rate %s validates", lr, base.lr_from)
    return [stored.assign(arm=sp.arm) for sp in specs], [lr] * len(specs)


def train_arms(
    specs: list[RunSpec],
    arrays,
    ckpt_dir: Path | None = None,
    seeds_per_spec: list[list[int]] | None = None,
    searched: list[pd.DataFrame | None] | None = None,
    device=CPU,
    weights_out: list[Path | None] | None = None,
) -> list[pd.DataFrame]:
    """Classification runs that differ only in their activation, trained as one stack: the lr
    search (when they have a grid; `searched` gives an arm's stored search instead), then the
    seeds of every arm (`seeds_per_spec`, default the run's) at its chosen lr. Each run's rows
    equal those of the run trained alone, bit for bit. `weights_out`: per run, where its final
    weights go (None: not kept)."""
    import numpy as np
    import pandas as pd

    from nnclaims.kinds import common
    from nnclaims.train import tidy, weights

    base = specs[0]
    for sp in specs[1:]:
        if batch_key(sp) != batch_key(base):
            raise ValueError(f"Runs {base.run_id} and {sp.run_id} differ in more than the arm")
    seeds_per_spec = seeds_per_spec or [list(sp.seeds) for sp in specs]
    tuned: list[pd.DataFrame | None] = list(searched or [None] * len(specs))
    lrs = [base.lr] * len(specs)
    if base.lr_grid and base.lr_from:
        tuned, lrs = shared_rate(specs, tuned, arrays, ckpt_dir, device)
    elif base.lr_grid:
        todo = [i for i, t in enumerate(tuned) if t is None]
        if todo:
            for i, f in zip(todo, tune_lrs([specs[i] for i in todo], arrays, ckpt_dir, device)):
                tuned[i] = f
        chance = 100.0 / arrays.n_classes
        lrs = [pick_lr(sp, t, chance) for sp, t in zip(specs, tuned)]
    keep = [i for i, ss in enumerate(seeds_per_spec) if ss]
    out = [tuned[i] if tuned[i] is not None else tidy.empty() for i in range(len(specs))]
    if not keep:
        return out
    trained = [specs[i] for i in keep]
    seeds = [seeds_per_spec[i] for i in keep]
    model = arm_stack(trained, common.d_in(arrays), arrays.n_classes, seeds)
    per_model_lr = [lrs[i] for i, ss in zip(keep, seeds) for _ in ss]
    # one rate is the only form SGD (image models) takes; else one lr per model (StackedAdam)
    lr = per_model_lr[0] if len(set(per_model_lr)) == 1 else per_model_lr
    hist = common.train(base, model, arrays, ckpt_dir, device, "classify", lr=lr)
    a = 0
    for i, ss in zip(keep, seeds):
        k = len(ss)
        h = {m: (v[:, a : a + k] if v.ndim == 2 else v[a : a + k]) for m, v in hist.items()}
        a += k
        df = tidy.from_history(specs[i], h, ss, np.ones(k), [specs[i].arm] * k, lr=lrs[i])
        if weights_out and weights_out[i] is not None:
            state = weights.model_states(model, range(a - k, a))
            weights.save(weights_out[i], state, [{"seed": s} for s in ss], specs[i].run_id)
        out[i] = df if tuned[i] is None else pd.concat([tuned[i], df], ignore_index=True)
    return out


def run_classify(spec: RunSpec, arrays, ckpt_dir: Path | None = None, device=CPU) -> pd.DataFrame:
    return train_arms([spec], arrays, ckpt_dir, device=device)[0]


def job(spec: RunSpec, job: Job):
    rows = train_arms(
        [spec],
        job.arrays,
        job.ckpt_dir,
        searched=[job.searched],
        device=job.device,
        weights_out=[job.weights_out],
    )
    return rows[0], None


def plan(setup: Setup) -> list[RunSpec]:
    """Each arm of the setup at each of the claim's `sizes` (or the training depth)."""
    out = []
    for size in setup.c.get("sizes") or [None]:
        depth = {"depth": size} if size is not None else {}
        for arm in setup.arms:
            fields = {**setup.arm_spec(arm), **{**setup.train, **depth}}
            out.append(RunSpec("classify", setup.label(arm), **fields))
    return out


KIND = Kind(
    "classify",
    job,
    doc="arms at their validated learning rates",
    block="arms",
    plan=plan,
    order=0,
    batched=True,
    lists_arms=True,
)
