"""The report's setup sentence of a claim, written from its runs' hyperparameters (hparams.json):
datasets and seeds, each model family with its training and how its learning rates were chosen,
then what each kind adds (a set search, an activation search, IMP, a width sweep, the spectral
probe: each kind's `describe`, nnclaims.kinds)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nnclaims import kinds
from nnclaims.core.catalog import IMAGE_MODELS

# the airbench94 recipe's training, beyond what the setup line names (nnclaims.train.airbench)
AIRBENCH = (
    " in the airbench94 recipe (Jordan 2024: Nesterov, lr and weight decay per 1024 examples,"
    " BatchNorm biases at 64× the lr, label smoothing 0.2, a triangular lr schedule, weight"
    " averaging every 5 steps, alternating flips and 2-pixel crops, test logits averaged over"
    " mirror and 2 translations)"
)


def _lr_text(rs: list[dict[str, Any]]) -> str:
    """How a model family's runs got their lr: picked per arm from a grid, fixed, or both (the
    fixed-lr arms named with their rate)."""
    grid = [x for x in rs if x.get("lr_grid")]
    fixed = [x for x in rs if not x.get("lr_grid") and _kind(x).lists_arms]
    if not grid:
        return "lr " + "/".join(dict.fromkeys(f"{x['lr']:g}" for x in rs))
    r = grid[0]
    rates = ", ".join(f"{x:g}" for x in r["lr_grid"])
    text = f"lr picked per arm on a {100 * r.get('val_fraction', 0.2):g} % validation split " + (
        f"by a walk on {rates} (the three rates around {r['lr']:g} first, then one rate further "
        "out while the best was the smallest or largest tried)"
        if r.get("lr_search") == "walk"
        else f"from {rates}"
    )
    by_lr: dict[str, list[str]] = {}
    for x in fixed:
        by_lr.setdefault(f"{x['lr']:g}", []).append(x["arm"])
    for lr, arms in by_lr.items():
        text += f" (at a fixed lr {lr}: {', '.join(dict.fromkeys(arms))})"
    return text


def _kind(run: dict[str, Any]) -> kinds.Kind:
    return kinds.get(run["kind"])


def describe_setup(runs: list[dict[str, Any]]) -> str:
    """One sentence describing a claim's runs, from their hyperparameters: datasets and seeds,
    each model family with its training, then what each kind adds (its `describe`)."""
    cls = [r for r in runs if _kind(r).needs_data]
    parts = []
    if cls:
        ds = list(dict.fromkeys(x["dataset"] for x in cls))
        n = {d: len(next(x for x in cls if x["dataset"] == d)["seeds"]) for d in ds}
        units = {_kind(x).seed_unit for x in cls}
        per = units.pop() if len(units) == 1 else "arm"
        seeds = (
            f"{next(iter(n.values()))} seeds per {per}"
            if len(set(n.values())) == 1
            else f"seeds per {per}: " + ", ".join(f"{d} {k}" for d, k in n.items())
        )
        parts.append(f"datasets {', '.join(ds)}; {seeds}")
        fam = [x for x in cls if _kind(x).family]
        for model in dict.fromkeys(x["model"] for x in fam):
            rs = [x for x in fam if x["model"] == model]
            r = rs[0]
            sizes = {d for x in rs for d in _kind(x).sizes(SimpleNamespace(**x))}
            arms = list(dict.fromkeys(x["arm"] for x in rs if _kind(x).lists_arms))
            opt = r.get("optimizer", "adam")
            opt = "Adam" if opt == "adam" else f"SGD (momentum {r.get('momentum', 0):g})"
            unit = "hidden layer(s)" if model.startswith("mlp") else "layers/blocks"
            shape = f"{unit} of width {r['width']}"
            if model in IMAGE_MODELS:  # their widths are the sources'
                shape = "conv groups" if model == "airbench" else unit
            airbench = r.get("recipe", "plain") == "airbench"
            parts.append(
                f"{model.upper()} with {' or '.join(map(str, sorted(sizes)))} {shape}; {opt}"
                f"{AIRBENCH if airbench else ''}, {_lr_text(rs)}, batch {r['batch_size']}, "
                f"{r['epochs']} epochs"
                + (
                    "; bf16 autocast of the forward pass (float32 weights and loss)"
                    if r.get("precision", "fp32") == "bf16"
                    else ""
                )
                + (
                    "; the seeds trained as one vmapped model (grouped convolutions)"
                    if r.get("stacking", "loop") == "vmap"
                    else ""
                )
                + (
                    f"; forward pass compiled (torch.compile, mode {r['compile']})"
                    if r.get("compile", "none") != "none"
                    else ""
                )
                + (f"; arms {', '.join(arms)}" if arms else "")
            )
    for kind in kinds.ordered():
        mine = [r for r in runs if r["kind"] == kind.name]
        text = kind.describe(mine) if mine and kind.describe is not None else None
        if text:  # a kind may have nothing to add for these runs
            parts.append(text)
    varies = seed_varies(cls)
    return "; ".join(parts) + "." + (f" {varies}" if varies else "")


DRAW_TEXT = {
    "mnist1d": "MNIST-1D generated anew",
    "digits": "digits resplit from its 1797 images (stratified; test sets overlap, so its "
    "t-tests are corrected)",
}


def seed_varies(runs: list[dict[str, Any]]) -> str:
    """What a seed varies in these runs, from their hyperparameters: always the init and batch
    order; the data draw (with its validation split and label noise) where the runs draw per
    seed; never the lr an arm picked (tuned once per arm, on tuning seeds)."""
    if not runs:
        return ""
    own = list(dict.fromkeys(r["dataset"] for r in runs if r.get("data_draw") == "seed"))
    fixed = list(dict.fromkeys(r["dataset"] for r in runs if r.get("data_draw") != "seed"))
    out = "A seed varies the init and the batch order"
    if own:
        out += ", and its own data draw (" + "; ".join(DRAW_TEXT.get(d, d) for d in own)
        out += ") with its validation split and label noise"
    if fixed:
        out += f"; on {', '.join(fixed)}, some runs (the source's own recipe) use one fixed draw"
    tuned = [r for r in runs if r.get("lr_grid")]
    if tuned:
        out += (
            "; the lr is picked once per arm on tuning seeds disjoint from the evaluation seeds, "
            "so the lr pick is not a source of seed variance"
        )
    return out + "."
