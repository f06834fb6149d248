"""How far an inconclusive paired test is from a decision: the power of the two-sided
one-sample t-test (noncentral t; with `overlap`, of the corrected resampled t), the seeds that
would detect the observed effect, and the smallest effect the present seeds detect
(nnclaims.stats.paired uses both; tests/test_stats.py checks them against statsmodels)."""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy import stats as sps


def _check_level(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def _power(
    n: np.ndarray | float, delta: float, alpha: float, overlap: float = 0.0
) -> np.ndarray | float:
    """Power of the two-sided one-sample t-test at level alpha, n pairs, standardised effect
    (with `overlap`, of the corrected resampled t: its se does not fall below sd·√overlap)."""
    df = np.asarray(n, dtype=float) - 1
    crit = sps.t.isf(alpha / 2, df)
    nc = abs(delta) / np.sqrt(1 / (df + 1) + overlap)
    upper = sps.nct.sf(crit, df, nc)
    if np.any(np.isnan(upper)):
        upper = np.where(np.isnan(upper), 1 - sps.nct.cdf(crit, df, nc), upper)
    lower = sps.nct.cdf(-crit, df, nc)
    if np.any(np.isnan(lower)):
        # scipy's nct.cdf gives NaN far in the lower tail, which lies below P(T < 0) = Φ(−nc)
        fallback = np.fmin(np.clip(1 - sps.nct.sf(-crit, df, nc), 0, 1), sps.norm.cdf(-nc))
        lower = np.where(np.isnan(lower), fallback, lower)
    power = upper + lower
    return power if np.ndim(power) else float(power)


def seeds_needed(
    effect: float,
    sd: float,
    alpha: float,
    power: float = 0.8,
    max_n: int = 1000,
    overlap: float = 0.0,
) -> int | None:
    """Smallest number of paired seeds n ≥ 2 giving the two-sided t-test `power` at `alpha`.

    The true |mean − threshold| is |effect| and the SD of d is sd: under the alternative the t
    statistic is noncentral t with df = n − 1 and nc = |effect|·√n / sd, and the power is
    P(|T| > t_{1−α/2, n−1}). None when sd is 0 or not finite, effect is 0 or not finite, or
    more than max_n seeds would be needed.
    """
    _check_level("alpha", alpha)
    _check_level("power", power)
    if not (np.isfinite(effect) and np.isfinite(sd)) or effect == 0 or sd <= 0:
        return None
    delta = abs(effect) / sd
    lo, hi = 2, int(max_n)
    if hi < lo or _power(hi, delta, alpha, overlap) < power:
        return None
    if _power(lo, delta, alpha, overlap) >= power:
        return lo
    while hi - lo > 1:  # power rises with n: bisect, keeping power(lo) < power ≤ power(hi)
        mid = (lo + hi) // 2
        if _power(mid, delta, alpha, overlap) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def detectable_effect(
    n: int, sd: float, alpha: float, power: float = 0.8, overlap: float = 0.0
) -> float:
    """Smallest |mean − threshold| the two-sided t-test at `alpha` detects with `power` at n pairs.

    Solves power(n, effect / sd) = power for the effect (scipy.optimize.brentq on the
    standardised effect). NaN for n < 2 or sd not finite; 0.0 when sd is 0.
    """
    _check_level("alpha", alpha)
    _check_level("power", power)
    if n < 2 or not np.isfinite(sd):
        return np.nan
    if sd < 0:
        raise ValueError(f"sd must be non-negative, got {sd!r}")
    if sd == 0:
        return 0.0
    if power <= alpha:  # the test rejects that often with no effect at all
        return 0.0

    def gap(delta: float) -> float:
        return float(_power(n, delta, alpha, overlap)) - power

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2
    delta = optimize.brentq(gap, 0.0, hi, xtol=1e-14, rtol=1e-14)
    return float(delta * sd)
