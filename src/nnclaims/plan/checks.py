"""What a config may not say, beyond its schema: relations between keys and settings the runs
cannot train, checked by nnclaims.plan.runs before any job starts (each error names the key)."""

from __future__ import annotations

import math
from typing import Any

from nnclaims import kinds
from nnclaims.core import catalog
from nnclaims.core.catalog import STACKED_MODELS
from nnclaims.core.kind import TUNE_SEED_BASE
from nnclaims.plan import resources


def design(c: dict[str, Any]) -> str:
    """A claim's experiment design, from its keys: `rounds` makes an IMP trunk with its sparse
    controls ("imp"); anything else compares arms ("compare": per size in `sizes`, with an
    optional per-layer set `search` and spectral probe). No claim name is special."""
    return "imp" if "rounds" in c else "compare"


def check_image_settings(kw: dict, claim: str) -> None:
    """The lr search needs one lr per model: the stacked models (StackedAdam) and the airbench
    recipe (an optimizer per model) have it; the other image models' SGD takes one per run."""
    model = kw.get("model", "mlp")
    if model not in STACKED_MODELS and model != "airbench" and kw.get("lr_grid"):
        raise ValueError(
            f"claims.{claim}: lr_grid works with the stacked models ({', '.join(STACKED_MODELS)}) "
            f"and airbench; for {kw['model']} set train.lr_grid: [] and one train.lr"
        )


def check_names(config: dict[str, Any]) -> None:
    """A mix or set named like an activation would silently replace it in every run of that
    name (and keep its label): refused, as is one name used for both a mix and a set."""
    taken = set(catalog.known_activations())
    for key in ("mixes", "sets"):
        for name in config.get(key, {}):
            if name in taken:
                raise ValueError(
                    f"{key}.{name}: an activation is called {name!r}; give the {key[:-2]} "
                    f"another name (e.g. {name}_{key[:3]})"
                )
    both = sorted(set(config.get("mixes", {})) & set(config.get("sets", {})))
    if both:
        raise ValueError(f"{', '.join(both)}: named both under mixes and under sets; rename one")


def check_settings(config: dict[str, Any]) -> None:
    """What the schema cannot say: relations between keys, checked before any job starts."""
    claims = config["claims"]
    lrs = [("train.lr", config["train"].get("lr"))]
    lrs += [(f"train.lr_grid[{i}]", x) for i, x in enumerate(config["train"].get("lr_grid", []))]
    for cid, c in claims.items():
        for v in [c, *c.get("variants", [])]:
            t = v.get("train", {})
            where = f"claims.{cid}" + (f".variants[{v['tag']}]" if "tag" in v else "")
            lrs += [(f"{where}.train.lr", t.get("lr"))]
            lrs += [(f"{where}.train.lr_grid[{i}]", x) for i, x in enumerate(t.get("lr_grid", []))]
        tags = [v["tag"] for v in c.get("variants", [])]
        dup = sorted({t for t in tags if tags.count(t) > 1})
        if dup:
            raise ValueError(
                f"claims.{cid}.variants: tag {', '.join(dup)} used twice (runs would share a label)"
            )
    for where, x in lrs:
        if x is not None and not (math.isfinite(float(x)) and float(x) > 0):
            raise ValueError(f"{where}: learning rate {x} is not a positive finite number")
    counts = {"seeds": config["seeds"], **{f"dataset_seeds.{d}": n for d, n in
                                            config.get("dataset_seeds", {}).items()}}  # fmt: skip
    for where, n in counts.items():
        if int(n) > TUNE_SEED_BASE:
            raise ValueError(
                f"{where}: {n} seeds would reach the tuning seeds ({TUNE_SEED_BASE} and up), "
                f"which must stay disjoint from the evaluation seeds; ask for at most "
                f"{TUNE_SEED_BASE}"
            )
    for cid, c in claims.items():
        _check_claim(cid, c, config)


def _check_claim(cid: str, c: dict[str, Any], config: dict[str, Any]) -> None:
    """A per-layer set fits the claim's network (a kind's own block is its `check`'s)."""
    train = {**config["train"], **c.get("train", {})}
    small = min(c.get("sizes") or [train["depth"]])
    for v in [c, *c.get("variants", [])] if design(c) == "compare" else []:
        model = {**train, **v.get("train", {})}.get("model", "mlp")
        slots = catalog.layer_slots(model, small)
        for arm in v.get("arms", []):
            fs = config.get("sets", {}).get(arm, [])
            if len(fs) > slots:
                raise ValueError(
                    f"sets.{arm}: {len(fs)} functions, but claims.{cid}'s {model} has "
                    f"{slots} activation slots at its smallest size: a function would be "
                    "dropped (give the claim more layers, or the set fewer functions)"
                )


def check_depths(plan) -> None:
    """Every image model at a depth it can build: checked here, not in a job after the
    download and the first rounds of training."""
    for claim, ids in plan.claim_runs.items():
        for s in (plan.runs[r] for r in ids):
            if s.model not in catalog.IMAGE_MODELS:
                continue
            shape = resources.dataset_shape(s.dataset)[0]
            hw = shape[-1] if len(shape) == 3 else None
            for depth in kinds.get(s.kind).sizes(s):
                try:
                    catalog.check_depth(s.model, depth, hw)
                except ValueError as e:
                    raise ValueError(f"claims.{claim} ({s.model} on {s.dataset}): {e}") from None


# A run estimated above this (RATE: a slow core, or one GPU for image models) is refused: a typo
# such as train.epochs: 1e9 would otherwise start and end in an out-of-memory traceback.
MAX_RUN_DAYS = 30


def check_size(plan) -> None:
    """Refuse a run whose estimated training time (resources.RATE) exceeds MAX_RUN_DAYS."""
    for claim, ids in plan.claim_runs.items():
        for rid in ids:
            s = plan.runs[rid]
            days = resources.work(s) / resources.RATE.get(s.model, 300) / 60 / 24
            if days > MAX_RUN_DAYS:
                raise ValueError(
                    f"claims.{claim}: run {rid} ({s.kind}, {len(s.seeds)} seeds × {s.epochs} "
                    f"epochs) would train for about {days:,.0f} days of a core (more than "
                    f"{MAX_RUN_DAYS}); lower train.epochs or seeds (`nnclaims cost` estimates "
                    "each claim's FLOPs)"
                )
