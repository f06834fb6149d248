"""Paired comparisons over seeds, the three-way verdict, familywise control and power.

A hypothesis says the paired difference d = a − b lies above (direction "greater") or below
("less") a threshold. Per hypothesis, with the 95 % t-interval [lo, hi] of mean(d) (`verdict`,
`compare_paired`, kept for callers that decide one hypothesis on its own):
  supported    the whole interval lies on the hypothesised side of the threshold;
  contradicted the whole interval lies on the other side;
  inconclusive otherwise, or with fewer than two pairs.

A claim tests a family of up to a dozen hypotheses × datasets and is contradicted if any one
is, so deciding each at its own 5 % lets false contradictions pile up (at the margin, 12
hypotheses with 5 seeds: about 26 % of true claims contradicted). `evaluate_family` controls the
familywise error rate per claim at ALPHA with Holm–Bonferroni:
  1. each hypothesis gets the two-sided p of the one-sample t-test of mean(d) == threshold
     (`paired_p`);
  2. the m p-values are sorted, p_(1) ≤ … ≤ p_(m); the k-th is multiplied by (m − k + 1), a
     running maximum keeps them monotone and they are capped at 1 (`holm`); a missing p
     (fewer than two pairs) still counts in m;
  3. a hypothesis is decided when its adjusted p < ALPHA — supported if mean(d) lies on the
     hypothesised side of the threshold, contradicted if on the other — and inconclusive
     otherwise (`decide`).
Holm rejects whatever Bonferroni (each at ALPHA / m) rejects, and sometimes more, while keeping
the chance that any hypothesis sitting exactly at its threshold gets decided ≤ ALPHA, whatever
the dependence between the tests; a contradiction needs the wrong side too, so at the margin
false contradictions stay near ALPHA / 2 (simulated in tests/test_stats.py).

For an inconclusive hypothesis two power numbers say how far it is from a decision, both for the
paired t-test at the Bonferroni level ALPHA / m with 80 % power (noncentral t):
  seeds_needed  the number of paired seeds at which the observed |mean − threshold| and the
                observed SD would be detected (`seeds_needed`);
  detectable    the smallest |mean − threshold| the current number of seeds detects at the
                observed SD (`detectable_effect`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from nnclaims.core import catalog
from nnclaims.stats.power import _check_level, detectable_effect, seeds_needed  # noqa: F401

VERDICTS = ("supported", "contradicted", "equivalent", "inconclusive")
ALPHA = catalog.ALPHA  # familywise error rate per claim (Holm across its hypotheses × datasets)


@dataclass(frozen=True)
class Comparison:
    n: int
    mean: float
    lo: float
    hi: float
    verdict: str


def mean_ci(d: np.ndarray, level: float = 0.95, overlap: float = 0.0) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean; NaN bounds for n < 2. `overlap`:
    n_test / n_train of seeds whose test sets are resplit from one pool (`se`)."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return np.nan, np.nan, np.nan
    m = float(d.mean())
    if n < 2:
        return m, np.nan, np.nan
    half = float(sps.t.ppf(0.5 + level / 2, n - 1) * se(d, overlap))
    return m, m - half, m + half


def se(d: np.ndarray, overlap: float = 0.0) -> float:
    """Standard error of mean(d) over n seeds: sd·√(1/n), or where the seeds' test sets are
    resplit from one pool (digits), Nadeau & Bengio's (2003) corrected resampled t's
    sd·√(1/n + n_test/n_train) (`overlap` = n_test / n_train): resplits share examples, so their
    differences are correlated and the plain 1/n understates the variance."""
    d = np.asarray(d, dtype=float)
    return float(d.std(ddof=1) * np.sqrt(1 / len(d) + overlap))


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
    """Several verdicts of one test (its datasets): contradicted if any is; supported, or
    equivalent, only if all are; inconclusive otherwise (a mix of supported and equivalent
    included: no one answer)."""
    if any(v == "contradicted" for v in verdicts):
        return "contradicted"
    for v in ("supported", "equivalent"):
        if verdicts and all(x == v for x in verdicts):
            return v
    return "inconclusive"


def _check_direction(direction: str) -> None:
    if direction not in ("greater", "less"):
        raise ValueError(f"direction must be 'greater' or 'less', got {direction!r}")


def paired_p(d: np.ndarray, threshold: float, overlap: float = 0.0) -> float:
    """Two-sided p of the one-sample t-test of mean(d) == threshold (scipy.stats.ttest_1samp;
    with `overlap`, the corrected resampled t of `se`, n − 1 degrees of freedom).

    NaN for fewer than two pairs or non-finite d. With zero spread the t statistic is 0/0 or
    ±inf: if every d equals the threshold there is nothing to decide and the p is NaN; if every
    d is equal but differs from the threshold, the p is 0.0 (the data are exactly on one side).
    """
    d = np.asarray(d, dtype=float).ravel()
    if len(d) < 2 or not np.all(np.isfinite(d)):
        return np.nan
    if d.min() == d.max():
        return np.nan if d[0] == threshold else 0.0
    if overlap:
        t = (d.mean() - threshold) / se(d, overlap)
        return float(2 * sps.t.sf(abs(t), len(d) - 1))
    with warnings.catch_warnings():
        # nearly constant d: scipy warns of precision loss but the p it returns is still usable
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(sps.ttest_1samp(d, threshold).pvalue)


def tost_p(d: np.ndarray, margin: float, overlap: float = 0.0) -> float:
    """p of the two one-sided t-tests (Schuirmann's TOST) that mean(d) lies inside
    (−margin, margin): the larger of the p of H0 mean ≤ −margin and of H0 mean ≥ margin, each
    one-sided, n − 1 degrees of freedom (statsmodels' ttost_paired; with `overlap`, the
    corrected se). Small p: the difference is smaller than the margin both ways (equivalent).
    NaN for fewer than two pairs, non-finite d or a margin ≤ 0."""
    d = np.asarray(d, dtype=float).ravel()
    if len(d) < 2 or not np.all(np.isfinite(d)) or not margin > 0:
        return np.nan
    s = se(d, overlap)
    m = d.mean()
    if s == 0:
        return 0.0 if abs(m) < margin else 1.0
    p_low = sps.t.sf((m + margin) / s, len(d) - 1)  # H0: mean ≤ −margin
    p_high = sps.t.cdf((m - margin) / s, len(d) - 1)  # H0: mean ≥ margin
    return float(max(p_low, p_high))


def holm(pvalues: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Holm (step-down Bonferroni) adjusted p-values, in the order of the input.

    Sorted ascending, the k-th smallest of m p-values (k = 1…m) becomes
    max_{j ≤ k} (m − j + 1)·p_(j), capped at 1; hypothesis i is rejected at familywise level
    alpha when its adjusted p < alpha. A NaN p counts in the family size m (as if it were 1,
    which is conservative) and stays NaN in the output. The adjusted p-values do not depend on
    alpha; it is accepted (and checked) to match `decide` and statsmodels' multipletests. A 2-D
    array is treated as one family per row (last axis).
    """
    _check_level("alpha", alpha)
    p = np.asarray(pvalues, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.shape[-1]
    if m == 0:
        return p.copy()
    missing = np.isnan(p)
    order = np.argsort(np.where(missing, np.inf, p), axis=-1, kind="stable")
    ranked = np.take_along_axis(np.where(missing, 1.0, p), order, axis=-1)
    adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * ranked, axis=-1), 1.0)
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=-1)
    out[missing] = np.nan
    return out


def decide(
    mean: float, p_adjusted: float, direction: str, threshold: float, alpha: float = ALPHA
) -> str:
    """Verdict from an adjusted p: decided when p_adjusted < alpha, by the side the mean is on.

    "supported" if the mean lies on the hypothesised side of the threshold (direction
    "greater": mean > threshold; "less": mean < threshold), "contradicted" if on the other
    side, "inconclusive" otherwise, including a NaN mean or p.
    """
    _check_direction(direction)
    if not (np.isfinite(mean) and p_adjusted < alpha) or mean == threshold:
        return "inconclusive"
    above = mean > threshold
    return "supported" if above == (direction == "greater") else "contradicted"


def evaluate_family(rows: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Decide one claim's hypotheses together, with Holm's familywise control at alpha.

    Each row has `d` (the paired differences), `direction` and `threshold`, or instead of `d`
    `pre`: another test's n, mean, sd, lo, hi and p (a ranking's bootstrap). The rows are the
    claim's family: Holm adjusts their p-values together (m = len(rows), plus one for each row
    with `equivalence`, a margin: its TOST p (`tost_p`) is a member of the family too; a row
    whose t-test is not decided but whose TOST is is "equivalent"). `overlap` (n_test / n_train)
    gives the corrected resampled t of resplit seeds (`se`). Returns per row a
    dict with
      n, mean, sd        of d (sd with ddof=1, NaN for n < 2);
      lo, hi             the unadjusted 95 % t-interval of the mean (`mean_ci`), for reporting;
      p, p_holm          the paired t-test p (`paired_p`) and its Holm-adjusted value;
      verdict            `decide` on p_holm;
      alpha_test         alpha / m, the Bonferroni level used for the power numbers;
      seeds_needed       inconclusive rows only: paired seeds that would decide the row at the
                         observed |mean − threshold| and observed sd, at level alpha / m;
      detectable         inconclusive rows only: the smallest |mean − threshold| detected at
                         the current n and observed sd, at level alpha / m.
    Both power numbers use 80 % power and alpha / m, the level of Holm's first and most
    demanding step; a hypothesis tested later in the step-down sequence faces a milder level,
    so they are conservative (they may overstate the seeds needed and the detectable effect).
    For decided rows both are None.
    """
    _check_level("alpha", alpha)
    m = len(rows)
    if m == 0:
        return []
    out = []
    for row in rows:
        _check_direction(row["direction"])
        if "pre" in row:  # decided by another test (ranking.per_seed): its numbers and p
            out.append({k: row["pre"][k] for k in ("n", "mean", "sd", "lo", "hi", "p")})
            continue
        d = np.asarray(row["d"], dtype=float).ravel()
        ov = row.get("overlap", 0.0)
        mean, lo, hi = mean_ci(d, overlap=ov)
        sd = float(d.std(ddof=1)) if len(d) >= 2 else np.nan
        out.append(
            {
                "n": len(d),
                "mean": mean,
                "sd": sd,
                "lo": lo,
                "hi": hi,
                "p": paired_p(d, row["threshold"], ov),
            }
        )
        if row.get("equivalence"):
            out[-1]["p_equiv"] = tost_p(d, row["equivalence"], ov)
    # the equivalence tests are members of the family too: m counts them
    equiv = [i for i, r in enumerate(out) if "p_equiv" in r]
    p_all = holm(np.array([r["p"] for r in out] + [out[i]["p_equiv"] for i in equiv]), alpha)
    m_all = len(p_all)
    for i, ph in zip(equiv, p_all[len(out) :]):
        out[i]["p_equiv_holm"] = float(ph)
    for row, r, ph in zip(rows, out, p_all):
        r["p_holm"] = float(ph)
        r["verdict"] = decide(r["mean"], r["p_holm"], row["direction"], row["threshold"], alpha)
        if row.get("pre", {}).get("supports_only"):
            r["supports_only"] = True  # its p tests one side only (a knee against none)
            if r["verdict"] == "contradicted":
                r["verdict"] = "inconclusive"
        if r["verdict"] == "inconclusive" and r.get("p_equiv_holm", 1.0) < alpha:
            r["verdict"] = "equivalent"  # within ±margin both ways: no practical difference
        r["alpha_test"] = alpha / m_all
        r["seeds_needed"] = r["detectable"] = None
        if r["verdict"] == "inconclusive" and "pre" not in row:  # t-test power only
            ov = row.get("overlap", 0.0)
            effect = abs(r["mean"] - row["threshold"]) if np.isfinite(r["mean"]) else np.nan
            r["seeds_needed"] = seeds_needed(effect, r["sd"], r["alpha_test"], overlap=ov)
            r["detectable"] = detectable_effect(r["n"], r["sd"], r["alpha_test"], overlap=ov)
    return out


def share_above(d: np.ndarray, level: float = 0.95) -> tuple[int, int, float, float]:
    """How many paired seeds have a > b (d > 0) of those with a value, and the exact
    (Clopper-Pearson) interval of that probability: (k, n, lo, hi). Descriptive: P(A > B) for
    one seed pair, beside the mean difference."""
    d = np.asarray(d, float)
    d = d[np.isfinite(d)]
    k, n = int((d > 0).sum()), len(d)
    if n == 0:
        return 0, 0, np.nan, np.nan
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return k, n, float(ci.low), float(ci.high)
