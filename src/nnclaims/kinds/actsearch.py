"""Kind "actsearch": the activation search of Ramachandran, Zoph & Le (2017, §3-4), small.

A seeded sample of functions of one or two core units (nnclaims.nets.searchspace), plus ReLU and
Swish as references, train as one stack for `search_epochs` at the run's `lr` on the training
part and are ranked by validation accuracy (a diverged candidate scores chance: a failure).
Every candidate uses the one seed SEARCH_SEED, so all start from the same weights and see the
same batches: they differ only in their function. The `keep` best are then trained as arms
found1.. exactly as a classification run trains its arms (each at the lr its own search picks
on the validation split, every seed of the run), so they pair by seed with the ReLU and Swish
runs of the same setup.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import TUNE_SEED_BASE, Job, Kind, lr_trials, run_and_tune_seeds
from nnclaims.core.testtype import ClaimsError, TestType
from nnclaims.nets import searchspace

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nnclaims.core.setup import Setup


log = logging.getLogger(__name__)
CPU = "cpu"
SEARCH_SEED = TUNE_SEED_BASE  # disjoint from the seeds that evaluate the found functions
CAND, REF = "cand:", "ref:"  # arm prefixes: a sampled candidate, a reference (ReLU, Swish)


def candidates(spec: RunSpec) -> list[str]:
    """The sampled functions: the same for every dataset and machine."""
    from nnclaims.core import seeding

    return searchspace.sample(spec.candidates, seeding.derive_seed(0, "actsearch"))


def references(cands: list[str]) -> list[str]:
    """ReLU, and Swish unless the sample drew it: trained beside the candidates so the report
    can say where they rank; never part of the sample the trends are tested on."""
    return [searchspace.RELU] + ([] if searchspace.SWISH in cands else [searchspace.SWISH])


def ranked(rows: pd.DataFrame, chance: float, prefix: str = CAND) -> list[tuple[str, float]]:
    """(function, validation score) of the functions with arm prefix `prefix`, best first; a
    diverged candidate (NaN) scores `chance`; ties keep the sample's order."""
    c = rows[rows["arm"].str.startswith(prefix) & (rows["metric"] == "val_acc")]
    score = c.assign(v=c["value"].fillna(chance)).groupby("arm", sort=False)["v"].mean()
    order = sorted(range(len(score)), key=lambda i: -score.iloc[i])
    return [(score.index[i][len(prefix) :], float(score.iloc[i])) for i in order]


def _scores(spec: RunSpec, arrays, fns: list[str], ckpt_dir, device) -> np.ndarray:
    """Each function's final validation accuracy (NaN: diverged), from a checkpoint or trained."""
    from nnclaims.kinds import common

    short = dataclasses.replace(spec, epochs=spec.search_epochs)
    acts = tuple((f,) for f in fns)

    def make():
        spec = dataclasses.replace(short, activation=acts)
        return common.stack(spec, common.d_in(arrays), arrays.n_classes, [SEARCH_SEED] * len(fns))

    return common.scored_once(short, make, arrays, ckpt_dir, device, "actsearch", lr=spec.lr)


def run_actsearch(
    spec: RunSpec,
    arrays,
    ckpt_dir: Path | None = None,
    device=CPU,
    searched: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows: every candidate's and reference's validation accuracy (arm "cand:<f>" / "ref:<f>",
    split val), then the found arms' rows as a classification run's (their lr search included).
    `searched`: the validation rows of an earlier run of this setup (replicates), reused."""
    import pandas as pd

    from nnclaims.kinds import classify
    from nnclaims.train import tidy

    if searched is not None and searched["arm"].str.startswith(CAND).any():
        is_search = searched["arm"].str.startswith((CAND, REF))
        rows = searched[is_search]
    else:
        cands = candidates(spec)
        fns = cands + references(cands)
        final = _scores(spec, arrays, fns, ckpt_dir, device)
        n = len(cands)
        short = dataclasses.replace(spec, epochs=spec.search_epochs)
        rows = pd.concat(
            [
                tidy.val_rows(
                    dataclasses.replace(short, arm=(CAND if i < n else REF) + f),
                    [SEARCH_SEED],
                    [spec.lr],
                    final[i : i + 1],
                )
                for i, f in enumerate(fns)
            ],
            ignore_index=True,
        )
    top = ranked(rows, 100.0 / arrays.n_classes)[: spec.keep]
    log.info("activation search, best: %s", ", ".join(f"{f} {s:.1f}" for f, s in top))
    found = [
        dataclasses.replace(spec, arm=f"found{i + 1}", activation=(f,))
        for i, (f, _) in enumerate(top)
    ]
    stored = [
        None if searched is None or not (searched["arm"] == sp.arm).any()
        else searched[searched["arm"] == sp.arm]
        for sp in found
    ]  # fmt: skip
    arms = classify.train_arms(found, arrays, ckpt_dir, searched=stored, device=device)
    return pd.concat([rows, *arms], ignore_index=True)


def job(spec: RunSpec, job: Job):
    return run_actsearch(spec, job.arrays, job.ckpt_dir, job.device, job.searched), None


def plan(setup: Setup) -> list[RunSpec]:
    """The claim's own setup (not its variants): one search, its best functions as arms."""
    if setup.tag:
        return []
    s = setup.c["activation_search"]
    spec = RunSpec(
        "actsearch",
        "found",
        (searchspace.SWISH,),  # unused: each sampled function is its own activation
        candidates=s["candidates"],
        keep=s["keep"],
        search_epochs=s["epochs"],
        **setup.train,
    )
    return [spec]


def work(spec: RunSpec) -> float:
    """One model per function for search_epochs, then `keep` arms as classify runs."""
    seeds = len(spec.seeds)
    trials = (spec.candidates + 2) * (1 - spec.val_fraction) * spec.search_epochs
    return trials + spec.keep * (seeds + lr_trials(spec)) * spec.epochs


def describe(runs: list[dict]) -> str:
    run = runs[0]
    return (
        f"activation search: {run['candidates']} functions of 1-2 core units sampled from the "
        f"space of Ramachandran et al. (β = 1), each trained {run['search_epochs']} epochs at lr "
        f"{run['lr']:g} from one shared seed and ranked on the validation split; the best "
        f"{run['keep']} trained as arms found1..{run['keep']} (own lr, every seed)"
    )


def check_search_test(where: str, cid: str, h: dict, runs: list) -> None:
    """A rank test compares two groups of an activation search's functions by validation
    accuracy, against AUC 0.5 (no difference); an enrichment test a feature's odds among the
    best against the rest, against odds ratio 1."""
    test = h.get("test")
    if h["metric"] != "val_acc":
        raise ClaimsError(f"{where}: tests ranksum and enrichment go with metric val_acc")
    null = 0.5 if test == "ranksum" else 1.0
    if "b" not in h or float(h["threshold"]) != null:
        raise ClaimsError(f"{where}: test {test} compares groups a and b against {null}")
    for side in ("a", "b"):
        if not any(k in h[side] for k in ("with", "without")):
            raise ClaimsError(f"{where}: {side} of test {test} gives `with` or `without`")
    if not any(s.kind == "actsearch" for s in runs):
        raise ClaimsError(
            f"{where}: test {test} reads an activation search's functions, but claims.{cid} "
            "has no `activation_search`"
        )


def _values(df, h: dict, dataset: str | None, common: dict) -> dict:
    from nnclaims.stats import searchtrends

    return searchtrends.values(df, h, dataset, common)


# the two tests over a search's functions (nnclaims.stats.searchtrends computes both)
SEARCH_TEST = {
    "values": _values,
    "check": check_search_test,
    "selects_arms": False,
    "metrics": ("val_acc",),
    "whole_table": True,  # the candidates' validation rows
    "missing": "no activation search run by this config",
}
TESTS = (
    TestType(
        "ranksum",
        **SEARCH_TEST,
        statistic=lambda r, sign: f"AUC {sign} {r['threshold']:g} (Mann-Whitney)",
        measured=lambda r: f"{r['a_mean']:.1f} vs {r['b_mean']:.1f} (median val. acc.)",
        note="A rank test (`test: ranksum`) compares two groups of the searched functions by "
        "validation accuracy: mean d is the AUC, the chance that a function of group a scores "
        "above one of group b (0.5: no difference), with a 95 % percentile bootstrap interval "
        "and the Mann-Whitney U test's p; n counts functions, not seeds.",
    ),
    TestType(
        "enrichment",
        **SEARCH_TEST,
        statistic=lambda r, sign: f"odds ratio {sign} {r['threshold']:g} (Fisher)",
        measured=lambda r: r["note"],
        says_note=True,
        note="An enrichment test (`test: enrichment`) asks whether a feature is more common "
        "among the best tenth of the searched functions than among the rest: mean d is the "
        "odds ratio (1: no enrichment), with its exact 95 % interval and Fisher's exact p; n "
        "counts functions.",
    ),
)


KIND = Kind(
    "actsearch",
    job,
    doc="activation search over core units (Ramachandran et al.), best functions as arms",
    # functions sampled; best kept as arms; epochs each sampled function trains before ranking
    params={"candidates": 0, "keep": 0, "search_epochs": 0},
    block="activation_search",
    plan=plan,
    order=10,
    row_arms=lambda spec: [f"found{i + 1}" for i in range(spec.keep)],
    data_seeds=lambda spec: [*run_and_tune_seeds(spec), SEARCH_SEED],
    priority=5,  # an activation search, then its best functions as arms: start early
    work=work,
    describe=describe,
    tests=TESTS,
)
