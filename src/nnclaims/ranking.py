"""Do two conditions rank the same arms alike? Kendall's τ-b between the arms' mean values in
each condition, with a bootstrap over seeds (#15.3: one shared learning rate against each arm's
own tuned rate).

The arms of both conditions share their seeds (seed s is the same initialisation and batch order
in both), so a bootstrap sample draws seeds with replacement and keeps each drawn seed's values
in every arm and both conditions together: the paired design. For each sample the arms' means are
ranked in each condition and τ-b computed; the 2.5 and 97.5 percentiles are the 95 % interval,
and the two-sided p of τ = threshold is twice the smaller tail of the samples beyond the
threshold (add-one corrected, so never 0). The p enters the claim's Holm family beside the
t-tests (stats.evaluate_family). With few seeds every resample can give the same ranking and
the interval shrinks to a point (3 seeds, 3 arms: [0.33, 0.33] in the test config): under
MIN_SEEDS seeds the bootstrap decides nothing (p is NaN: inconclusive, and the report says why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def variant_pairs(arms: list[str], tag_a: str, tag_b: str) -> list[tuple[str, str]]:
    """The arms of variant `tag_a` paired with the same activation's arm of variant `tag_b`
    ("" is the claim's own setup; a variant's arms are labelled <arm>_<tag>), in `arms` order."""

    def label(base: str, tag: str) -> str:
        return f"{base}_{tag}" if tag else base

    suffix = f"_{tag_b}" if tag_b else ""
    bases = [a[: len(a) - len(suffix)] for a in arms if a.endswith(suffix)]
    have = set(arms)
    return [
        (label(x, tag_a), label(x, tag_b))
        for x in bases
        if label(x, tag_a) in have and label(x, tag_b) in have and tag_a != tag_b
    ]


N_BOOT = 4999  # p resolves to 1 / 5000: below the Holm level of a family of 20 (0.0025)
MIN_SEEDS = 5  # the default run's smallest seed count (MNIST-1D)


def tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b between x and y along the last axis (…, n): the same value as
    scipy.stats.kendalltau, for many pairs of rankings at once."""
    import numpy as np  # here, not above: the claims check imports this module without numpy

    i, j = np.triu_indices(x.shape[-1], 1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    concordance = (sx * sy).sum(-1)
    tied_x, tied_y = (sx != 0).sum(-1), (sy != 0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return concordance / np.sqrt(tied_x * tied_y)


def bootstrap(a: np.ndarray, b: np.ndarray, threshold: float, seed: int = 0) -> dict[str, float]:
    """τ-b between the arms' means in condition a and in condition b, each (seeds, arms) with
    the same seeds in the same rows and the same arms in the same columns; its bootstrap over
    seeds: n (seeds), mean (τ of the observed means), sd (of the bootstrap τ), lo / hi (95 %
    percentile interval) and p (two-sided, of τ = threshold)."""
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"Two (seeds, arms) tables of one shape expected, got {a.shape}, {b.shape}"
        )
    n, arms = a.shape
    if arms < 3:
        raise ValueError(f"A ranking needs at least 3 arms, got {arms}")
    tau = float(tau_b(a.mean(0), b.mean(0)))
    if n < 2:
        return {"n": n, "mean": tau, "sd": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan}
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, size=(N_BOOT, n))
    taus = tau_b(a[rows].mean(1), b[rows].mean(1))
    taus = taus[np.isfinite(taus)]
    below = (np.sum(taus <= threshold) + 1) / (len(taus) + 1)
    above = (np.sum(taus >= threshold) + 1) / (len(taus) + 1)
    lo, hi = np.percentile(taus, [2.5, 97.5])
    return {
        "n": n,
        "mean": tau,
        "sd": float(taus.std(ddof=1)),
        "lo": float(lo),
        "hi": float(hi),
        "p": float(min(1.0, 2 * min(below, above))) if n >= MIN_SEEDS else np.nan,
    }
