"""Kind "search": the per-layer set search of Schweickert (2022). Random sets (one function
per hidden layer) on the small network, scored on a validation split; the best transferred to
the large network."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nnclaims.core.catalog import STACKED_MODELS, n_sets
from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind, tune_seeds

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nnclaims.core.setup import Setup


log = logging.getLogger(__name__)
CPU = "cpu"


def candidate_sets(spec: RunSpec) -> list[tuple[str, ...]]:
    """`candidates` distinct random per-layer sets (one function per hidden layer of the small
    network) from `pool`, the same for every dataset and seed (the thesis's random search)."""
    import numpy as np

    from nnclaims.core import seeding

    rng = np.random.default_rng(seeding.derive_seed(0, "search"))
    n_possible = n_sets(len(set(spec.pool)), spec.depth)
    if spec.candidates > n_possible:
        raise ValueError(f"{spec.candidates} candidates, but the pool makes only {n_possible} sets")
    out: list[tuple[str, ...]] = []
    while len(out) < spec.candidates:
        c = tuple(str(x) for x in rng.choice(spec.pool, size=spec.depth))
        # a "set" of one function repeated is a plain network, not a mix
        if len(set(c)) >= 2 and c not in out:
            out.append(c)
    return out


def search_seeds(spec: RunSpec) -> list[int]:
    """The set search's seeds: the tuning seeds (kinds.common.tune_seeds), never a seed of the
    runs that evaluate the chosen sets, so their numbers do not reuse the search's θ0 or data
    (winner's curse)."""
    from nnclaims.kinds import common

    return common.tune_seeds(spec)


def set_name(s: tuple[str, ...]) -> str:
    return "+".join(s)


def _candidate_scores(spec, arrays, cands, ckpt_dir, device, searched) -> np.ndarray:
    """Each candidate's final validation accuracy per search seed (NaN: diverged), from a stored
    search, a checkpoint, or trained now."""
    import numpy as np

    from nnclaims.kinds import common

    tseeds = search_seeds(spec)
    if searched is not None:
        return np.concatenate(
            [
                searched[searched["arm"] == f"cand:{set_name(c)}"].sort_values("seed")["value"]
                for c in cands
            ]
        )
    run_seeds = tseeds * len(cands)
    sets = tuple(c for c in cands for _ in tseeds)

    def make():
        return common.stack(
            dataclasses.replace(spec, layer_acts=sets),
            common.d_in(arrays),
            arrays.n_classes,
            run_seeds,
        )

    return common.scored_once(spec, make, arrays, ckpt_dir, device, "search")


def run_search(
    spec: RunSpec,
    arrays,
    ckpt_dir: Path | None = None,
    searched: pd.DataFrame | None = None,
    device=CPU,
    weights_out: Path | None = None,
) -> pd.DataFrame:
    """Per-layer set search as in Schweickert (2022): random sets on the small network, scored by
    validation accuracy (mean over tune_seeds search seeds, disjoint from the run's seeds), the
    `keep` best trained with every seed on the
    full training set at the small and the large size (each function then serves
    large/small layers). Rows: candidates as val_acc (arm "cand:<f1+f2>"), the kept sets as
    arms best_set1.. (with a val_acc row naming their functions via arm "cand:...").
    `searched`: the candidates' rows of an earlier run of this setup, reused as they are.
    `weights_out`: the kept sets' final models at both sizes (nnclaims.train.weights)."""
    import numpy as np
    import pandas as pd

    from nnclaims.kinds import common
    from nnclaims.train import tidy, weights

    cands = candidate_sets(spec)
    tseeds = search_seeds(spec)
    final = _candidate_scores(spec, arrays, cands, ckpt_dir, device, searched)
    chance = 100.0 / arrays.n_classes
    nt = len(tseeds)
    scores = [common.search_score(final[i * nt : (i + 1) * nt], chance) for i in range(len(cands))]
    ranked = sorted(range(len(cands)), key=lambda i: -scores[i])  # stable: ties keep draw order
    best = [cands[i] for i in ranked[: spec.keep]]
    log.info("set search: %s", {set_name(c): round(float(x), 2) for c, x in zip(cands, scores)})
    frames = [
        tidy.val_rows(
            dataclasses.replace(spec, arm=f"cand:{set_name(c)}"),
            tseeds,
            [spec.lr] * nt,
            final[i * nt : (i + 1) * nt],
        )
        for i, c in enumerate(cands)
    ]
    seeds = list(spec.seeds)
    state, models = {}, []
    for depth in (spec.depth, spec.large_depth):
        sized = dataclasses.replace(
            spec, depth=depth, layer_acts=tuple(b for b in best for _ in seeds)
        )
        model = common.stack(sized, common.d_in(arrays), arrays.n_classes, seeds * len(best))
        hist = common.train(sized, model, arrays, ckpt_dir, device, f"final-d{depth}")
        arms = [f"best_set{r + 1}" for r in range(len(best)) for _ in seeds]
        frames.append(tidy.from_history(sized, hist, seeds * len(best), np.ones(len(arms)), arms))
        g = f"depth{depth}"
        state.update(weights.prefixed(weights.model_states(model, range(len(arms))), g))
        sets = [b for b in best for _ in seeds]
        models += [
            {"seed": s, "stack": g, "depth": depth, "arm": a, "set": list(fs)}
            for s, a, fs in zip(seeds * len(best), arms, sets)
        ]
    if weights_out is not None:
        weights.save(weights_out, state, models, spec.run_id)
    return pd.concat(frames, ignore_index=True)


def job(spec: RunSpec, job: Job):
    rows = run_search(spec, job.arrays, job.ckpt_dir, job.searched, job.device, job.weights_out)
    return rows, None


def plan(setup: Setup) -> list[RunSpec]:
    """The claim's own setup (not its variants): the search on its smallest size, the best
    sets trained at the smallest and the largest."""
    c, kw = setup.c, setup.train
    if setup.tag:
        return []
    if kw.get("model", "mlp") not in STACKED_MODELS:
        raise ValueError(
            f"claims.{setup.claim}.search runs on {', '.join(STACKED_MODELS)}; for "
            f"{kw['model']} list the sets to compare under `sets` and in `arms`"
        )
    if not c.get("sizes"):
        raise ValueError(f"claims.{setup.claim}.search needs `sizes` (searched on the smallest)")
    s = c["search"]
    spec = RunSpec(
        "search",
        "best_set",
        (s["pool"][0],),
        pool=tuple(s["pool"]),
        candidates=s["candidates"],
        keep=s["keep"],
        large_depth=max(c["sizes"]),
        **{**setup.fixed_lr(), "depth": min(c["sizes"])},
    )
    return [spec]


def check(cid: str, c: dict, config: dict) -> None:
    search = c["search"]
    if search["keep"] > search["candidates"]:
        raise ValueError(
            f"claims.{cid}.search.keep: {search['keep']} is more than its "
            f"{search['candidates']} candidates"
        )
    train = {**config["train"], **c.get("train", {})}
    small = min(c.get("sizes") or [train["depth"]])
    if c.get("sizes"):
        n = n_sets(len(set(search["pool"])), small)
        if search["candidates"] > n:
            raise ValueError(
                f"claims.{cid}.search.candidates: {search['candidates']}, but a pool of "
                f"{len(set(search['pool']))} functions makes only {n} sets of {small} layers "
                "with two or more distinct functions"
            )


def work(spec: RunSpec) -> float:
    """The candidates on the training part, then the kept sets at both sizes (a large network
    counts large/small times)."""
    seeds = len(spec.seeds)
    trials = spec.candidates * min(spec.tune_seeds, seeds) * (1 - spec.val_fraction)
    return (trials + spec.keep * seeds * (1 + spec.large_depth / spec.depth)) * spec.epochs


def describe(runs: list[dict]) -> str:
    r = runs[0]
    return (
        f"set search: {r['candidates']} random per-layer sets from "
        f"{{{', '.join(r['pool'])}}} on {r['depth']} layers ({r['tune_seeds']} seeds each, "
        f"scored on the validation split), the best {r['keep']} trained at {r['depth']} "
        f"and {r['large_depth']} layers"
    )


KIND = Kind(
    "search",
    job,
    doc="per-layer set search on the small network, best sets at both sizes",
    # functions the sets are drawn from; random sets tried; best kept; the large network
    params={"pool": (), "candidates": 0, "keep": 0, "large_depth": 0},
    block="search",
    plan=plan,
    order=30,
    check=check,
    row_arms=lambda spec: [f"best_set{i + 1}" for i in range(spec.keep)],
    sizes=lambda spec: (spec.depth, spec.large_depth),
    data_seeds=lambda spec: [*spec.seeds, *tune_seeds(spec)],
    # the claim's last runs to finish when started late (a core idled ~60 s at the end)
    priority=5,
    work=work,
    describe=describe,
)
