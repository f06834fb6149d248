"""Do two conditions rank the same arms alike? Kendall's τ-b between the arms' values in each
condition, per seed, tested over seeds (one shared learning rate against each arm's own tuned
rate).

The arms of both conditions share their seeds (seed s is the same initialisation and batch order
in both), so each seed gives one τ-b: between the arms' values in condition a and in condition b
of that seed. The statistic is the mean of these τ-b over seeds, with its 95 % t-interval, and
the two-sided p of a one-sample t-test of mean τ-b = threshold: a test whose false-decision
rate at its null is the t-test's (tests/test_calibration.py), where a percentile bootstrap over
5 seeds decides about 16 % of the time. The τ-b of the mean values, a less noisy description of
the two rankings, is reported beside it and decides nothing. The p enters the claim's Holm
family beside the t-tests (stats.evaluate_family).
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


MIN_SEEDS = 3  # a t-test over fewer seeds' τ-b decides nothing


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


def per_seed(a: np.ndarray, b: np.ndarray, threshold: float) -> dict[str, float]:
    """τ-b between condition a and condition b within each seed, a and b (seeds, arms) with the
    same seeds in the same rows and the same arms in the same columns: n (seeds with a τ-b),
    mean, sd, lo / hi (95 % t-interval), p (two-sided, of mean τ-b = threshold) and
    tau_of_means (τ-b of the arms' means over the seeds, descriptive)."""
    import numpy as np

    from nnclaims.stats import paired as stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"Two (seeds, arms) tables of one shape expected, got {a.shape}, {b.shape}"
        )
    if a.shape[1] < 3:
        raise ValueError(f"A ranking needs at least 3 arms, got {a.shape[1]}")
    taus = tau_b(a, b)
    taus = taus[np.isfinite(taus)]  # a seed whose values are all tied ranks nothing
    mean, lo, hi = stats.mean_ci(taus)
    return {
        "n": len(taus),
        "mean": mean,
        "sd": float(taus.std(ddof=1)) if len(taus) > 1 else np.nan,
        "lo": lo,
        "hi": hi,
        "p": stats.paired_p(taus, threshold) if len(taus) >= MIN_SEEDS else np.nan,
        "tau_of_means": float(tau_b(a.mean(0), b.mean(0))),
    }
