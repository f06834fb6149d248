"""Does a verdict depend on how much was tuned? The expected best validation accuracy of an arm
when its lr search tries n of its N rates, drawn at random without replacement (Dodge et al.
2019, "Show Your Work"; the unbiased estimator of Tang et al. 2020): with the rates' validation
scores sorted, v_(1) ≤ … ≤ v_(N),
    E[max of n] = Σ_{k=n}^{N} v_(k) · C(k − 1, n − 1) / C(N, n).
A rate's score is the search's: mean validation accuracy over the tuning seeds, a diverged seed
at chance. A comparison of two arms is read at every budget n = 1 … N as the difference of
their expected best scores; it "depends on the tuning budget" where that difference falls on
both sides of the hypothesis's margin.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np
import pandas as pd


def expected_best(scores: np.ndarray, n: int) -> float:
    """E[max] of n of the scores drawn without replacement."""
    v = np.sort(np.asarray(scores, float))
    big_n = len(v)
    if not 1 <= n <= big_n:
        raise ValueError(f"a budget of {n} rates out of {big_n}")
    return float(sum(v[k - 1] * comb(k - 1, n - 1) for k in range(n, big_n + 1)) / comb(big_n, n))


def rate_scores(df: pd.DataFrame, dataset: str, arm: str, chance: float) -> pd.Series:
    """Each rate's search score of an arm (its validation rows), by rate."""
    v = df[(df["dataset"] == dataset) & (df["arm"] == arm) & (df["metric"] == "val_acc")]
    return v.assign(value=v["value"].fillna(chance)).groupby("lr")["value"].mean()


def curve(scores: pd.Series) -> list[float]:
    return [expected_best(scores.to_numpy(), n) for n in range(1, len(scores) + 1)]


def budget_table(
    df: pd.DataFrame, evaluation: dict[str, Any], chance: dict[str, float]
) -> dict | None:
    """Per primary paired hypothesis between two searched arms: the difference of their
    expected best validation accuracy at 1 rate, at half the grid and at the whole grid, and
    whether it changes side of the margin over the budgets."""
    from nnclaims.core.labels import label

    rows = []
    for h in evaluation["hypotheses"]:
        a, b = (h.get("arm_a"), h.get("arm_b"))
        if h.get("role") != "primary" or not a or not b:
            continue
        ds = h["dataset"]
        sa, sb = rate_scores(df, ds, a, chance[ds]), rate_scores(df, ds, b, chance[ds])
        if len(sa) < 3 or list(sa.index) != list(sb.index):
            continue  # a search of fewer rates, or of other rates (a walk): no common budget
        diff = np.array(curve(sa)) - np.array(curve(sb))
        sides = {bool(x > h["threshold"]) for x in diff}
        mid = len(diff) // 2
        reading = "depends on the tuning budget" if len(sides) > 1 else "one side at every budget"
        at = [f"{diff[0]:+.2f}", f"{diff[mid]:+.2f} ({mid + 1})", f"{diff[-1]:+.2f} ({len(diff)})"]
        rows.append([h.get("label") or h["text"], ds, f"{label(a)} vs {label(b)}", *at, reading])
    if not rows:
        return None
    return {
        "title": "Tuning budget: the difference a − b of expected best validation accuracy when "
        "each arm's lr search tries n of the rates both searched, drawn at random (Dodge et al. "
        "2019; unbiased estimator), at n = 1, half and all; whether it stays on one side of the "
        "hypothesis's margin",
        "columns": ["Hypothesis", "Dataset", "Arms", "1 rate", "Half (n)", "All (n)", "Reading"],
        "rows": rows,
    }
