"""What a seed's variance is made of: the components of a crossed design (kinds.crossed), data
draws × training seeds, one value per cell.

Model: y_di = μ + a_d + b_i + e_di with a_d ~ N(0, σ²_draw) (the data draw: its train and test
sets, validation split and label noise), b_i ~ N(0, σ²_seed) (the training seed: init and batch
order) and e_di ~ N(0, σ²_res) (their interaction, which a two-way layout without replication
cannot tell from noise). ANOVA estimators of the balanced layout (Searle, Casella & McCulloch,
Variance Components, §4), with D draws and I seeds:
  MS_draw = I·Σ_d (ȳ_d. − ȳ)² / (D − 1),   MS_seed = D·Σ_i (ȳ_.i − ȳ)² / (I − 1),
  MS_res  = Σ (y_di − ȳ_d. − ȳ_.i + ȳ)² / ((D − 1)(I − 1)),
  σ²_draw = (MS_draw − MS_res) / I,  σ²_seed = (MS_seed − MS_res) / D,  σ²_res = MS_res,
a negative estimate truncated at 0. On balanced data with positive estimates these equal REML's
(statsmodels MixedLM; tested). τ/σ compares the draw's SD with what a seed varies within one
draw: τ = σ_draw, σ = √(σ²_seed + σ²_res). A test whose seeds share one draw reads that draw's
offset (SD τ) as if it were the task's; its 95 % interval is a generalized confidence interval
(`components`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def anova(y: np.ndarray) -> dict[str, float]:
    """σ²_draw, σ²_seed, σ²_res of a (draws, seeds) array (ANOVA estimators, truncated at 0)."""
    y = np.asarray(y, float)
    d, i = y.shape
    if d < 2 or i < 2:
        raise ValueError(f"a crossed design needs ≥ 2 draws and ≥ 2 seeds, got {d} × {i}")
    grand, rows, cols = y.mean(), y.mean(1), y.mean(0)
    ms_draw = i * ((rows - grand) ** 2).sum() / (d - 1)
    ms_seed = d * ((cols - grand) ** 2).sum() / (i - 1)
    resid = y - rows[:, None] - cols[None, :] + grand
    ms_res = (resid**2).sum() / ((d - 1) * (i - 1))
    return {
        "draw": max(0.0, (ms_draw - ms_res) / i),
        "seed": max(0.0, (ms_seed - ms_res) / d),
        "residual": float(ms_res),
    }


def tau_over_sigma(c: dict[str, float]) -> float:
    within = np.sqrt(c["seed"] + c["residual"])
    return float(np.sqrt(c["draw"]) / within) if within > 0 else np.nan


def _mean_squares(y: np.ndarray) -> tuple[float, float, float]:
    d, i = y.shape
    grand, rows, cols = y.mean(), y.mean(1), y.mean(0)
    ms_draw = i * ((rows - grand) ** 2).sum() / (d - 1)
    ms_seed = d * ((cols - grand) ** 2).sum() / (i - 1)
    resid = y - rows[:, None] - cols[None, :] + grand
    return ms_draw, ms_seed, (resid**2).sum() / ((d - 1) * (i - 1))


def components(y: np.ndarray, reps: int = 20000, seed: int = 0) -> dict[str, float]:
    """SDs of the three components, τ/σ and its 95 % generalized confidence interval
    (Weerahandi 1993): each mean square's sum of squares over a χ² draw of its degrees of
    freedom is a pivot of its expectation (σ²_res; σ²_res + I·σ²_draw; σ²_res + D·σ²_seed),
    from which the components and τ/σ follow; the interval is the 2.5 and 97.5 % points of
    `reps` such draws (a parametric percentile bootstrap under-covers at 5 × 5)."""
    y = np.asarray(y, float)
    c = anova(y)
    d, i = y.shape
    ms_draw, ms_seed, ms_res = _mean_squares(y)
    df_d, df_s, df_r = d - 1, i - 1, (d - 1) * (i - 1)
    rng = np.random.default_rng(seed)
    res = ms_res * df_r / rng.chisquare(df_r, reps)
    draw = np.maximum(0, (ms_draw * df_d / rng.chisquare(df_d, reps) - res) / i)
    seed_ = np.maximum(0, (ms_seed * df_s / rng.chisquare(df_s, reps) - res) / d)
    ratio = np.sqrt(draw / (seed_ + res))
    lo, hi = np.percentile(ratio, [2.5, 97.5])
    return {
        "draws": d,
        "seeds": i,
        "sd_draw": float(np.sqrt(c["draw"])),
        "sd_seed": float(np.sqrt(c["seed"])),
        "sd_residual": float(np.sqrt(c["residual"])),
        "tau_over_sigma": tau_over_sigma(c),
        "lo": float(lo),
        "hi": float(hi),
    }


def cells(values: pd.Series, code: int) -> np.ndarray:
    """Per-cell values indexed by row seed (code · draw + seed) → a (draws, seeds) array."""
    draw, seed = values.index.to_numpy() // code, values.index.to_numpy() % code
    table = pd.Series(values.to_numpy(float), index=pd.MultiIndex.from_arrays([draw, seed]))
    return table.unstack().sort_index().sort_index(axis=1).to_numpy()


def table(crossed: pd.DataFrame, code: int = 1000) -> dict | None:
    """The report's table of a claim's crossed runs (arms crossed:<arm>): per dataset, each
    arm's end test accuracy and, for two arms, their paired difference (second − first), as
    the SDs of the draw, the seed and the residual, and τ/σ with its 95 % interval. None when
    the claim ran none."""
    from nnclaims.stats.selection import per_seed

    if crossed.empty:
        return None
    ends = per_seed(crossed[crossed["split"] != "val"], "test_acc", ["dataset", "arm"])
    rows = []
    for ds, d in ends.groupby("dataset", sort=False):
        arms = list(dict.fromkeys(d["arm"]))
        grids = {a: cells(d[d["arm"] == a].set_index("seed")["value"], code) for a in arms}
        named = [(a.split(":", 1)[1], g) for a, g in grids.items()]
        if len(named) == 2:
            named.append((f"{named[1][0]} − {named[0][0]}", named[1][1] - named[0][1]))
        for name, g in named:
            c = components(g)
            rows.append([ds, name, f"{c['draws']} × {c['seeds']}", f"{c['sd_draw']:.2f}",
                         f"{c['sd_seed']:.2f}", f"{c['sd_residual']:.2f}",
                         f"{c['tau_over_sigma']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}]"])  # fmt: skip
    return {
        "title": "What a seed's variance is made of (end test accuracy, points; data draws × "
        "training seeds, crossed; τ/σ: the draw's SD over the SD a training seed gives within "
        "one draw, with its 95 % generalized confidence interval)",
        "columns": [
            "Dataset",
            "Arm",
            "Draws × seeds",
            "SD draw",
            "SD seed",
            "SD residual",
            "τ/σ [95 % CI]",
        ],  # fmt: skip
        "rows": rows,
    }
