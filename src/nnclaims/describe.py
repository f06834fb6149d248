"""The report's setup sentence of a claim, written from its runs' hyperparameters (hparams.json):
datasets and seeds, each model family with its training and how its learning rates were chosen,
then what a set search, an activation search, IMP and the spectral probe add."""

from __future__ import annotations

from typing import Any


def _lr_text(rs: list[dict[str, Any]]) -> str:
    """How a model family's runs got their lr: picked per arm from a grid, fixed, or both (the
    fixed-lr arms named with their rate)."""
    grid = [x for x in rs if x.get("lr_grid")]
    fixed = [x for x in rs if not x.get("lr_grid") and x["kind"] == "classify"]
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


def _describe_search(r: dict[str, Any]) -> str:
    return (
        f"set search: {r['candidates']} random per-layer sets from "
        f"{{{', '.join(r['pool'])}}} on {r['depth']} layers ({r['tune_seeds']} seeds each, "
        f"scored on the validation split), the best {r['keep']} trained at {r['depth']} "
        f"and {r['large_depth']} layers"
    )


def _describe_actsearch(run: dict[str, Any]) -> str:
    """The setup sentence's part for an activation-search run (its hparams)."""
    return (
        f"activation search: {run['candidates']} functions of 1-2 core units sampled from the "
        f"space of Ramachandran et al. (β = 1), each trained {run['search_epochs']} epochs at lr "
        f"{run['lr']:g} from one shared seed and ranked on the validation split; the best "
        f"{run['keep']} trained as arms found1..{run['keep']} (own lr, every seed)"
    )


def _describe_widths(rs: list[dict[str, Any]]) -> str:
    """The setup sentence's part for a claim's width-sweep runs (their hparams)."""
    r = rs[0]
    ws = r["widths"]
    opt = "Adam" if r.get("optimizer", "adam") == "adam" else "SGD"
    noise = sorted({x.get("label_noise", 0.0) for x in rs} - {0.0})
    return (
        f"width sweep: MLP with {r['depth']} hidden layers of each of {len(ws)} widths "
        f"({', '.join(map(str, ws))}), {r['activation'][0]}, {opt} lr {r['lr']:g}, batch "
        f"{r['batch_size']}, {r['epochs']} epochs on the whole training set"
        + (f"; and again with {', '.join(f'{100 * x:g} %' for x in noise)} of the training "
           "labels redrawn at random" if noise else "")
    )  # fmt: skip


def _describe_imp(r: dict[str, Any]) -> str:
    return (
        f"IMP: {r['prune_rounds']} rounds pruning {100 * r['prune_fraction']:g} % of remaining "
        f"weights per layer (output layer at half rate), survivors reset to their initial "
        f"values; controls at every level"
    )


def _describe_spectral(sp: list[dict[str, Any]]) -> str:
    r = sp[0]
    return (
        f"spectral probe: sum of {len(r['freqs'])} sines (k = {r['freqs'][0]}…{r['freqs'][-1]}) "
        f"on {r['n_points']} points, MLP {r['depth']} × {r['width']}, full-batch Adam lr "
        f"{r['lr']:g} for {r['epochs']} steps, {len(r['seeds'])} phase draws, arms "
        f"{', '.join(x['arm'] for x in sp)}"
    )


def describe_setup(runs: list[dict[str, Any]]) -> str:
    """One sentence describing a claim's runs, from their hyperparameters: datasets and seeds,
    each model family with its training, then what the search, IMP and probe kinds add."""
    cls = [r for r in runs if r["kind"] != "spectral"]
    parts = []
    if cls:
        ds = list(dict.fromkeys(x["dataset"] for x in cls))
        n = {d: len(next(x for x in cls if x["dataset"] == d)["seeds"]) for d in ds}
        per = "width" if all(x["kind"] == "widths" for x in cls) else "arm"
        seeds = (
            f"{next(iter(n.values()))} seeds per {per}"
            if len(set(n.values())) == 1
            else f"seeds per {per}: " + ", ".join(f"{d} {k}" for d, k in n.items())
        )
        parts.append(f"datasets {', '.join(ds)}; {seeds}")
        sweeps = [x for x in cls if x["kind"] == "widths"]
        for model in dict.fromkeys(x["model"] for x in cls if x["kind"] != "widths"):
            rs = [x for x in cls if x["model"] == model and x["kind"] != "widths"]
            r = rs[0]
            depths = sorted({x["depth"] for x in rs} | {x.get("large_depth", 0) for x in rs} - {0})
            arms = list(dict.fromkeys(x["arm"] for x in rs if x["kind"] == "classify"))
            opt = r.get("optimizer", "adam")
            opt = "Adam" if opt == "adam" else f"SGD (momentum {r.get('momentum', 0):g})"
            unit = "hidden layer(s)" if model.startswith("mlp") else "layers/blocks"
            parts.append(
                f"{model.upper()} with {' or '.join(map(str, depths))} {unit} of width "
                f"{r['width']}; {opt}, {_lr_text(rs)}, batch {r['batch_size']}, "
                f"{r['epochs']} epochs" + (f"; arms {', '.join(arms)}" if arms else "")
            )
        parts += [_describe_search(x) for x in cls if x["kind"] == "search"][:1]
        parts += [_describe_actsearch(x) for x in cls if x["kind"] == "actsearch"][:1]
        parts += [_describe_imp(x) for x in cls if x["kind"] == "imp"][:1]
        parts += [_describe_widths(sweeps)] if sweeps else []
    sp = [r for r in runs if r["kind"] == "spectral"]
    if sp:
        parts.append(_describe_spectral(sp))
    return "; ".join(parts) + "."
