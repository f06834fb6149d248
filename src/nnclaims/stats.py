"""Paired comparisons over seeds and the three-way verdict.

A hypothesis says the paired difference d = a − b lies above (direction "greater") or below
("less") a threshold. With the 95 % t-interval [lo, hi] of mean(d):
  supported    the whole interval lies on the hypothesised side of the threshold;
  contradicted the whole interval lies on the other side;
  inconclusive otherwise, or with fewer than two pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

VERDICTS = ("supported", "contradicted", "inconclusive")


@dataclass(frozen=True)
class Comparison:
    n: int
    mean: float
    lo: float
    hi: float
    verdict: str


def mean_ci(d: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean; NaN bounds for n < 2."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return np.nan, np.nan, np.nan
    m = float(d.mean())
    if n < 2:
        return m, np.nan, np.nan
    half = float(sps.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half


def verdict(lo: float, hi: float, direction: str, threshold: float) -> str:
    if direction not in ("greater", "less"):
        raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    above, below = lo > threshold, hi < threshold
    if direction == "greater":
        return "supported" if above else "contradicted" if below else "inconclusive"
    return "supported" if below else "contradicted" if above else "inconclusive"


def compare_paired(
    a: np.ndarray, b: np.ndarray | None, direction: str, threshold: float, level: float = 0.95
) -> Comparison:
    """Test a − b (or a alone when b is None) against the threshold."""
    d = np.asarray(a, float) - (0 if b is None else np.asarray(b, float))
    m, lo, hi = mean_ci(d, level)
    return Comparison(len(d), m, lo, hi, verdict(lo, hi, direction, threshold))


def combine(verdicts: list[str]) -> str:
    """A claim with several parts: contradicted if any part is, supported only if all are."""
    if any(v == "contradicted" for v in verdicts):
        return "contradicted"
    if verdicts and all(v == "supported" for v in verdicts):
        return "supported"
    return "inconclusive"
