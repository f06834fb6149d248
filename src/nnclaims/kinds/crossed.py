"""Kind "crossed": data draws × training seeds, fully crossed, to measure what a seed's variance
is made of (Bouthillier et al. 2021): model (d, i) trains on data seed d's draw (its data, its
validation split, its label noise) from training seed i's init and batch order. Its arm trains
at the rate its own lr search validates (the tuning seeds, as a classify run of the same setup:
the same rate). Rows carry seed = CODE · d + i (nnclaims.stats.variance reads them back); cell d = i
is the classify run's seed i, bit for bit.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind, tune_seeds

if TYPE_CHECKING:
    from nnclaims.core.setup import Setup


CODE = 1000  # a row's seed: CODE · data seed + training seed
PREFIX = "crossed:"  # its arms' labels: apart from the claim's own runs of the same activation


def cells(spec: RunSpec) -> tuple[list[int], list[int]]:
    """(training seed, data seed) of each model, draws outermost."""
    draws = range(spec.draws)
    return [i for _ in draws for i in spec.seeds], [d for d in draws for _ in spec.seeds]


def job(spec: RunSpec, job: Job):
    import numpy as np
    import pandas as pd

    from nnclaims.kinds import classify, common
    from nnclaims.train import tidy

    arm = dataclasses.replace(spec, arm=spec.arm[len(PREFIX) :])
    chance = 100.0 / job.arrays.n_classes
    searched = job.searched
    if spec.lr_grid and searched is None:
        searched = classify.tune_lrs([arm], job.arrays, job.ckpt_dir, job.device)[0]
    lr = classify.pick_lr(arm, searched, chance) if spec.lr_grid else spec.lr
    seeds, data_seeds = cells(spec)
    model = common.stack(spec, common.d_in(job.arrays), job.arrays.n_classes, seeds)
    model.data_seeds = data_seeds
    hist = common.train(spec, model, job.arrays, job.ckpt_dir, job.device, "crossed", lr=lr)
    codes = [CODE * d + i for i, d in zip(seeds, data_seeds)]
    rows = tidy.from_history(spec, hist, codes, np.ones(len(codes)), [spec.arm] * len(codes), lr)
    if searched is not None:
        rows = pd.concat([searched.assign(arm=spec.arm), rows], ignore_index=True)
    return rows, None


def plan(setup: Setup) -> list[RunSpec]:
    """One run per arm of the block, on its datasets (default MNIST-1D), the claim's own setup."""
    b = setup.c["crossed"]
    if setup.tag or setup.train["dataset"] not in b.get("datasets", ["mnist1d"]):
        return []
    return [
        RunSpec(
            "crossed",
            PREFIX + arm,
            **{**setup.arm_spec(arm), **setup.train, "draws": int(b.get("draws", 5))},
        )
        for arm in b["arms"]
    ]


def describe(runs: list[dict]) -> str:
    r = runs[0]
    arms = ", ".join(x["arm"][len(PREFIX) :] for x in runs)
    return (
        f"variance components: {arms}, each as {r['draws']} data draws × {len(r['seeds'])} "
        "training seeds, crossed (every draw with every init and batch order), at the rate its "
        "lr search validates"
    )


KIND = Kind(
    "crossed",
    job,
    doc="data draws × training seeds, crossed: the variance components of a comparison",
    params={"draws": 0},  # data draws, each crossed with every seed of the run
    block="crossed",
    plan=plan,
    order=60,
    data_seeds=lambda spec: [*range(spec.draws), *(tune_seeds(spec) if spec.lr_grid else [])],
    work=lambda spec: (
        spec.draws * len(spec.seeds) * spec.epochs
        + (len(spec.lr_grid) * spec.tune_seeds * (1 - spec.val_fraction) * spec.epochs)
    ),
    describe=describe,
    family=False,
    replicable=False,
)
