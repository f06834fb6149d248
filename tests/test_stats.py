import numpy as np
import pytest

from nnclaims import stats

RNG = np.random.default_rng(0)
B = 60 + RNG.normal(0, 1, 8)


@pytest.mark.parametrize(
    "a, direction, threshold, want",
    [
        (B + 5 + RNG.normal(0, 0.3, 8), "greater", 0.0, "supported"),  # clear win
        (B - 5 + RNG.normal(0, 0.3, 8), "greater", 0.0, "contradicted"),  # clear loss
        (B + RNG.normal(0, 1.0, 8), "greater", 0.0, "inconclusive"),  # tie
        (B - 5 + RNG.normal(0, 0.3, 8), "less", 0.0, "supported"),
        (B + 5 + RNG.normal(0, 0.3, 8), "less", 0.0, "contradicted"),
        (B - 0.2 + RNG.normal(0, 0.1, 8), "greater", -1.0, "supported"),  # "matches within 1 point"
        (B - 2.0 + RNG.normal(0, 0.1, 8), "less", -5.0, "contradicted"),  # worse, but not "much"
    ],
)
def test_verdicts_on_constructed_data(a, direction, threshold, want):
    assert stats.compare_paired(a, B, direction, threshold).verdict == want


def test_ci_covers_the_mean_and_needs_two_pairs():
    m, lo, hi = stats.mean_ci(np.array([1.0, 2.0, 3.0]))
    assert lo < m == 2.0 < hi
    assert (
        stats.compare_paired(np.array([1.0]), np.array([0.0]), "greater", 0).verdict
        == "inconclusive"
    )


def test_combine():
    assert stats.combine(["supported", "supported"]) == "supported"
    assert stats.combine(["supported", "contradicted"]) == "contradicted"
    assert stats.combine(["supported", "inconclusive"]) == "inconclusive"
