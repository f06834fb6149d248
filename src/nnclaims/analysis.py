"""Numbers the notebooks and the report quote: per-seed selections, summaries, claim verdicts.

Notebooks call these and draw; they compute nothing the report depends on by themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from . import stats
from .io import write_json

CHANCE = {"mnist1d": 10.0}  # % accuracy of guessing; a diverged run scores this


def load_claims(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f)


def load_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    with open(path) as f:
        return json.load(f)


def _pick(values: np.ndarray, how: Any) -> float:
    vals = np.sort(np.unique(values))
    if how == "min":
        return float(vals[0])
    if how == "max":
        return float(vals[-1])
    return float(how)


def select(
    df: pd.DataFrame,
    metric: str,
    arm: str,
    size: Any = None,
    level: Any = None,
    epoch: Any = "last",
    dataset: str | None = None,
) -> pd.Series:
    """Per-seed values (index: seed) of one metric for one arm, at the chosen size/level/epoch."""
    d = df[(df.metric == metric) & (df.arm == arm)]
    if dataset is not None:
        d = d[d.dataset == dataset]
    if d.empty:
        raise ValueError(
            f"No rows for metric {metric!r}, arm {arm!r}"
            + (f", dataset {dataset!r}" if dataset else "")
        )
    if size is not None:
        d = d[d["size"] == _pick(d["size"].to_numpy(), size)]
    if level is not None:
        # every seed of an IMP round keeps the same count of weights, so levels agree across seeds
        d = d[np.isclose(d["level"], _pick(d["level"].to_numpy(), level))]
    last = int(d["epoch"].max())
    if epoch == "last":
        e = last
    elif isinstance(epoch, float) and 0 < epoch < 1:
        e = max(1, int(round(epoch * last)))
    else:
        e = min(int(epoch), last)
    d = d[d["epoch"] == e]
    if d["seed"].duplicated().any():
        raise ValueError(f"Selection for arm {arm!r} is not one value per seed: add size/level")
    vals = d.set_index("seed")["value"].sort_index()
    if metric == "test_acc":
        ds = d["dataset"].iloc[0]
        vals = vals.fillna(CHANCE.get(ds, np.nan))  # a diverged model counts at chance
    return vals


def evaluate_hypothesis(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    a = select(df, h["metric"], dataset=dataset, **h["a"])
    b = select(df, h["metric"], dataset=dataset, **h["b"]) if "b" in h else None
    if b is not None:
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
    c = stats.compare_paired(
        a.to_numpy(), None if b is None else b.to_numpy(), h["direction"], float(h["threshold"])
    )
    return {
        "id": h["id"],
        "text": h["text"],
        "n": c.n,
        "diff": c.mean,
        "lo": c.lo,
        "hi": c.hi,
        "verdict": c.verdict,
        "direction": h["direction"],
        "threshold": h["threshold"],
        "a_mean": float(a.mean()),
        "b_mean": None if b is None else float(b.mean()),
    }


def evaluate_claim(
    df: pd.DataFrame, claim: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    results = [evaluate_hypothesis(df, h, dataset) for h in claim["hypotheses"]]
    return {"hypotheses": results, "verdict": stats.combine([r["verdict"] for r in results])}


def summary(df: pd.DataFrame, metric: str, by: list[str], epoch: Any = "last") -> pd.DataFrame:
    """Mean, SD and n over seeds of `metric` at the last epoch (per group of `by`)."""
    d = df[df.metric == metric]
    last = d.groupby(by)["epoch"].transform("max") if epoch == "last" else epoch
    d = d[d["epoch"] == last].copy()
    if metric == "test_acc":
        d["value"] = d["value"].fillna(d["dataset"].map(CHANCE))
    g = d.groupby(by)["value"]
    return g.agg(mean="mean", sd="std", n="count").reset_index()


def fmt_pm(mean: float, sd: float, digits: int = 1, sig: int | None = None) -> str:
    """ "mean ± sd" with `digits` decimals, or with `sig` significant digits (for losses)."""
    f = (lambda v: f"{v:.{sig}g}") if sig else (lambda v: f"{v:.{digits}f}")
    if not np.isfinite(sd):
        return f(mean)
    return f"{f(mean)} ± {f(sd)}"


def fmt_hypothesis(r: dict[str, Any], digits: int = 2) -> dict[str, Any]:
    ci = "n/a" if not np.isfinite(r["lo"]) else f"[{r['lo']:.{digits}f}, {r['hi']:.{digits}f}]"
    sign = ">" if r["direction"] == "greater" else "<"
    return {
        "id": r["id"],
        "text": r["text"],
        "test": f"a − b {sign} {r['threshold']:g}",
        "diff": f"{r['diff']:.{digits}f}",
        "ci": ci,
        "n": r["n"],
        "verdict": r["verdict"],
    }


def describe_setup(runs: list[dict[str, Any]]) -> str:
    """One sentence describing the classification runs of a claim, from their hyperparameters."""
    cls = [r for r in runs if r["kind"] != "spectral"]
    parts = []
    if cls:
        r = cls[0]
        depths = sorted({x["depth"] for x in cls})
        ds = sorted({x["dataset"] for x in cls})
        arms = list(dict.fromkeys(x["arm"] for x in cls))
        parts.append(
            f"{', '.join(ds)}; {r['model'].upper()} with {' or '.join(map(str, depths))} hidden "
            f"layer(s) of {r['width']} units; Adam, lr {r['lr']:g}, batch {r['batch_size']}, "
            f"{r['epochs']} epochs; arms {', '.join(arms)}; {len(r['seeds'])} seeds each"
        )
        imp = [x for x in cls if x["kind"] == "imp"]
        if imp:
            parts.append(
                f"IMP: {imp[0]['prune_rounds']} rounds pruning "
                f"{100 * imp[0]['prune_fraction']:g} % of remaining weights per layer "
                f"(output layer at half rate), survivors reset to their initial values"
            )
    sp = [r for r in runs if r["kind"] == "spectral"]
    if sp:
        r = sp[0]
        parts.append(
            f"spectral probe: sum of {len(r['freqs'])} sines "
            f"(k = {r['freqs'][0]}…{r['freqs'][-1]}) "
            f"on {r['n_points']} points, MLP {r['depth']} × {r['width']}, full-batch Adam lr "
            f"{r['lr']:g} for {r['epochs']} steps, {len(r['seeds'])} phase draws, arms "
            f"{', '.join(x['arm'] for x in sp)}"
        )
    return "; ".join(parts) + "."


def diverged(df: pd.DataFrame) -> str:
    """Which models diverged (loss NaN/inf), in words; 'none' when none did."""
    d = df[(df.metric == "diverged_epoch") & (df.value > 0)]
    if d.empty:
        return "none"
    parts = []
    keys = ["arm", "size", "level"]
    for (arm, size, level), g in d.groupby(keys):
        total = df[
            (df.metric == "diverged_epoch")
            & (df.arm == arm)
            & (df["size"] == size)
            & np.isclose(df.level, level)
        ]
        where = f"{arm}, {size} layers" + ("" if level == 1 else f", {100 * level:.1f} % weights")
        epochs = ", ".join(str(int(e)) for e in sorted(g.value))
        parts.append(f"{where}: {len(g)} of {len(total)} (epochs {epochs})")
    return "; ".join(parts) + " — counted at chance accuracy"


def write_numbers(
    path: str | os.PathLike,
    claim_id: str,
    claim: dict[str, Any],
    setup: str,
    table: dict[str, Any],
    evaluation: dict[str, Any],
    outcome: str,
    figures: list[dict[str, str]],
    notebook: str,
    extra: dict[str, Any] | None = None,
    df: pd.DataFrame | None = None,
) -> None:
    """The JSON the report reads for one claim: everything it prints about the claim."""
    write_json(
        {
            "claim": claim_id,
            "title": claim["title"],
            "statement": claim["statement"],
            "source": claim["source"],
            "published": claim.get("published", []),
            "setup": setup,
            "differences": claim.get("differences", ""),
            "diverged": "none" if df is None else diverged(df),
            # the config keys every number and figure of this claim depends on
            "config_keys": ["datasets", "seeds", "train", "mixes", f"claims.{claim_id}"],
            "table": table,
            "hypotheses": [fmt_hypothesis(r) for r in evaluation["hypotheses"]],
            "verdict": evaluation["verdict"],
            "outcome": outcome,
            "figures": figures,
            "notebook": notebook,
            "extra": extra or {},
        },
        Path(path),
    )


def outcome_sentence(evaluation: dict[str, Any]) -> str:
    """Plain words: which parts held, which did not."""
    held = [h["text"] for h in evaluation["hypotheses"] if h["verdict"] == "supported"]
    failed = [h["text"] for h in evaluation["hypotheses"] if h["verdict"] == "contradicted"]
    open_ = [h["text"] for h in evaluation["hypotheses"] if h["verdict"] == "inconclusive"]
    s = []
    if held:
        s.append("Our data support that " + "; and that ".join(held) + ".")
    if failed:
        s.append("They contradict that " + "; and that ".join(failed) + ".")
    if open_:
        s.append("They cannot decide whether " + "; or whether ".join(open_) + ".")
    return " ".join(s)
