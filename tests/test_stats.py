import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from nnclaims.stats import paired as stats

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


# --- familywise control (Holm) and power -------------------------------------------------------


def test_holm_matches_statsmodels():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(1)
    cases = [rng.uniform(0, 1, m) for m in (1, 2, 5, 12, 40)]
    cases += [rng.uniform(0, 0.05, 12) ** 2]  # many small p: several rejections
    cases += [np.round(rng.uniform(0, 0.1, 12), 2)]  # ties
    cases += [np.array([0.01, 0.01, 0.01, 0.04, 0.04, 0.5, 1.0, 0.0])]  # ties, 0 and 1
    for p in cases:
        want = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(stats.holm(p), want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(stats.holm(p[::-1]), want[::-1], rtol=0, atol=1e-12)
    rows = rng.uniform(0, 0.02, (3, 12))  # a 2-D array is one family per row
    np.testing.assert_allclose(stats.holm(rows), np.array([stats.holm(r) for r in rows]))


def test_holm_counts_nan_in_the_family_and_keeps_it():
    adj = stats.holm(np.array([0.01, np.nan, 0.02]))
    assert np.isnan(adj[1])
    np.testing.assert_allclose(adj[[0, 2]], [0.03, 0.04])  # m = 3, not 2
    assert stats.holm(np.array([])).shape == (0,)
    assert stats.holm(np.array([0.9, 0.8])).max() == 1.0  # capped at 1
    with pytest.raises(ValueError):
        stats.holm(np.array([0.5, 1.5]))


def test_paired_p_matches_scipy_ttest_1samp():
    rng = np.random.default_rng(2)
    for n in (2, 3, 5, 10):
        for threshold in (-1.0, 0.0, 0.3):
            d = rng.normal(0.2, 1.0, n)
            want = sps.ttest_1samp(d, threshold).pvalue
            assert stats.paired_p(d, threshold) == pytest.approx(want, rel=1e-12)


def test_paired_p_edge_cases_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may leak
        assert np.isnan(stats.paired_p(np.array([0.7]), 0.0))  # one pair
        assert np.isnan(stats.paired_p(np.array([]), 0.0))
        assert np.isnan(stats.paired_p(np.array([1.5, 1.5, 1.5]), 1.5))  # nothing to decide
        assert stats.paired_p(np.array([2.0, 2.0, 2.0]), 1.0) == 0.0  # exactly on one side
        assert stats.paired_p(np.array([-2.0, -2.0]), 1.0) == 0.0
        assert 0 <= stats.paired_p(1e8 + np.array([0, 1e-8, 2e-8]), 1e8) <= 1  # near-constant


@pytest.mark.parametrize(
    "mean, p_adj, direction, threshold, want",
    [
        (1.0, 0.01, "greater", 0.0, "supported"),
        (-1.0, 0.01, "greater", 0.0, "contradicted"),
        (-1.0, 0.01, "less", 0.0, "supported"),
        (1.0, 0.01, "less", 0.0, "contradicted"),
        (-0.5, 0.001, "greater", -1.0, "supported"),  # above a negative threshold
        (-2.0, 0.001, "less", -5.0, "contradicted"),
        (1.0, 0.05, "greater", 0.0, "inconclusive"),  # p must be < alpha, not ≤
        (1.0, 0.3, "less", 0.0, "inconclusive"),
        (1.0, np.nan, "greater", 0.0, "inconclusive"),
        (np.nan, 0.01, "greater", 0.0, "inconclusive"),
        (0.0, 0.01, "greater", 0.0, "inconclusive"),  # on the threshold: no side
    ],
)
def test_decide(mean, p_adj, direction, threshold, want):
    assert stats.decide(mean, p_adj, direction, threshold) == want


def test_decide_alpha_and_direction():
    assert stats.decide(1.0, 0.03, "greater", 0.0, alpha=0.01) == "inconclusive"
    assert stats.decide(1.0, 0.03, "greater", 0.0, alpha=0.05) == "supported"
    with pytest.raises(ValueError):
        stats.decide(1.0, 0.01, "two-sided", 0.0)


@pytest.mark.parametrize(
    "effect, sd, alpha",
    [
        (0.5, 1.0, 0.05),
        (1.0, 2.0, 0.05 / 12),
        (2.0, 1.0, 0.01),
        (-0.8, 1.5, 0.05 / 4),  # the sign of the effect does not matter
        (0.3, 0.5, 0.05 / 6),
        (0.1, 1.0, 0.05),  # 787 seeds
    ],
)
def test_seeds_needed_matches_statsmodels(effect, sd, alpha):
    TTestPower = pytest.importorskip("statsmodels.stats.power").TTestPower
    nobs = TTestPower().solve_power(
        effect_size=abs(effect) / sd, alpha=alpha, power=0.8, alternative="two-sided"
    )
    assert stats.seeds_needed(effect, sd, alpha) == math.ceil(nobs)


def test_seeds_needed_gives_none_when_there_is_nothing_to_plan():
    assert stats.seeds_needed(0.0, 1.0, 0.05) is None
    assert stats.seeds_needed(1.0, 0.0, 0.05) is None
    assert stats.seeds_needed(1.0, np.nan, 0.05) is None
    assert stats.seeds_needed(np.nan, 1.0, 0.05) is None
    assert stats.seeds_needed(np.inf, 1.0, 0.05) is None
    assert stats.seeds_needed(0.01, 1.0, 0.05) is None  # ~78,000 seeds > max_n
    assert stats.seeds_needed(0.1, 1.0, 0.05, max_n=500) is None  # 787 > 500
    assert stats.seeds_needed(20.0, 1.0, 0.05) == 2  # never fewer than two pairs
    assert stats.seeds_needed(8.0, 1.0, 0.05 / 12) == 4  # scipy's nct.cdf NaN tail handled


@pytest.mark.parametrize(
    "n, sd, alpha",
    [(5, 1.0, 0.05), (10, 0.5, 0.01), (30, 1.0, 0.05 / 12), (8, 0.7, 0.05 / 6), (100, 2.0, 0.05)],
)
def test_detectable_effect_matches_statsmodels(n, sd, alpha):
    power_mod = pytest.importorskip("statsmodels.stats.power")
    want = power_mod.TTestPower().solve_power(
        nobs=n, alpha=alpha, power=0.8, alternative="two-sided"
    )
    got = stats.detectable_effect(n, sd, alpha)
    assert abs(got / sd - want) < 1e-6
    assert power_mod.ttest_power(got / sd, n, alpha) == pytest.approx(0.8, abs=1e-9)
    # the two are inverses: at the detectable effect, n seeds are (just) enough
    assert stats.seeds_needed(got * 1.000001, sd, alpha) == n


def test_detectable_effect_edge_cases():
    assert np.isnan(stats.detectable_effect(1, 1.0, 0.05))
    assert np.isnan(stats.detectable_effect(5, np.nan, 0.05))
    assert stats.detectable_effect(5, 0.0, 0.05) == 0.0
    # two pairs at a Bonferroni level: huge but finite (scipy's nct.cdf NaN tail handled)
    assert 100 < stats.detectable_effect(2, 1.0, 0.05 / 12) < 200


def test_holm_controls_false_contradictions_at_the_margin():
    """12 hypotheses × 5 seeds, every d ~ Normal(threshold, 1): each claim is true at the margin.

    Measured with this seed over 20,000 simulated claims (a binomial SE is about 0.0015):
      falsely contradicted  Holm 0.026   old rule (each own 95 % t-interval) 0.257
      any wrong decision    Holm 0.051   old rule 0.460
    The old rule's false-contradiction rate is 1 − 0.975¹² ≈ 0.26 in theory; Holm keeps the
    chance of any wrong decision at or below ALPHA = 0.05, and of a contradiction at about half.
    """
    n_claims, m, n = 20_000, 12, 5
    rng = np.random.default_rng(12)
    threshold = np.linspace(-3, 3, m)
    greater = np.arange(m) < m // 2
    directions = np.where(greater, "greater", "less")
    d = threshold[:, None] + rng.standard_normal((n_claims, m, n))

    mean = d.mean(-1)
    se = d.std(-1, ddof=1) / np.sqrt(n)
    p = 2 * sps.t.sf(np.abs((mean - threshold) / se), n - 1)
    p_holm = stats.holm(p)
    wrong_side = np.where(greater, mean < threshold, mean > threshold)
    holm_contradicted = (p_holm < stats.ALPHA) & wrong_side
    half = sps.t.ppf(0.975, n - 1) * se
    old_contradicted = np.where(greater, mean + half < threshold, mean - half > threshold)

    # the vectorised shortcuts agree with the package's own functions on a sample of claims,
    # chosen to include claims each rule contradicts
    sample = np.r_[
        0,
        1,
        np.flatnonzero(holm_contradicted.any(1))[:8],
        np.flatnonzero(old_contradicted.any(1))[:8],
    ]
    for i in sample:
        p_i = [stats.paired_p(d[i, j], threshold[j]) for j in range(m)]
        np.testing.assert_allclose(p_i, p[i], rtol=1e-9)
        np.testing.assert_allclose(stats.holm(np.array(p_i)), p_holm[i], rtol=1e-9)
        new = [
            stats.decide(mean[i, j], p_holm[i, j], directions[j], threshold[j]) for j in range(m)
        ]
        assert [v == "contradicted" for v in new] == list(holm_contradicted[i])
        old = [
            stats.verdict(*stats.mean_ci(d[i, j])[1:], directions[j], threshold[j])
            for j in range(m)
        ]
        assert [v == "contradicted" for v in old] == list(old_contradicted[i])
    i = sample[2]  # and evaluate_family, on a claim Holm contradicts
    family = [
        {"d": d[i, j], "direction": directions[j], "threshold": threshold[j]} for j in range(m)
    ]
    got = stats.evaluate_family(family)
    np.testing.assert_allclose([r["p_holm"] for r in got], p_holm[i], rtol=1e-9)
    assert [r["verdict"] == "contradicted" for r in got] == list(holm_contradicted[i])

    allowance = 3 * np.sqrt(stats.ALPHA * (1 - stats.ALPHA) / n_claims)
    holm_rate = holm_contradicted.any(1).mean()
    holm_any_rate = (p_holm < stats.ALPHA).any(1).mean()
    old_rate = old_contradicted.any(1).mean()
    assert holm_rate <= stats.ALPHA + allowance
    assert holm_any_rate <= stats.ALPHA + allowance
    assert old_rate > 0.15
    assert abs(old_rate - (1 - 0.975**m)) < 0.02


def test_evaluate_family_holm_bites():
    """A difference whose own 95 % interval excludes the threshold is not enough in a family."""
    null = np.array([-1.0, 1.0, -0.5, 0.5, 0.0])  # mean 0, p = 1
    marginal = np.array([0.4, 0.7, 1.0, 1.3, 1.6])  # p ≈ 0.009: 95 % CI ≈ [0.41, 1.59]
    strong = np.array([2.0, 2.1, 1.9, 2.05, 1.95])
    rows = [
        {"d": marginal, "direction": "less", "threshold": 0.0},
        {"d": strong, "direction": "greater", "threshold": 0.0},
        {"d": np.array([3.0]), "direction": "greater", "threshold": 0.0},  # one pair: p NaN
    ] + [{"d": null, "direction": "greater", "threshold": 0.0}] * 9
    m = len(rows)
    out = stats.evaluate_family(rows)
    mar, strg, single = out[0], out[1], out[2]

    # the old per-hypothesis rule contradicts the claim through the marginal row ...
    assert mar["lo"] > 0.0
    assert stats.verdict(mar["lo"], mar["hi"], "less", 0.0) == "contradicted"
    assert mar["p"] < stats.ALPHA
    # ... Holm does not: the smallest-but-one p is multiplied by m − 1 = 11
    assert mar["p_holm"] == pytest.approx((m - 1) * mar["p"])
    assert mar["p_holm"] > stats.ALPHA
    assert mar["verdict"] == "inconclusive"
    assert stats.combine([r["verdict"] for r in out]) == "inconclusive"

    assert strg["verdict"] == "supported"
    assert strg["p_holm"] == pytest.approx(m * strg["p"])  # the NaN row counts in m
    assert strg["seeds_needed"] is None and strg["detectable"] is None

    assert single["n"] == 1 and np.isnan(single["p"]) and np.isnan(single["p_holm"])
    assert single["verdict"] == "inconclusive"
    assert single["seeds_needed"] is None and np.isnan(single["detectable"])

    for r in out:
        assert r["alpha_test"] == pytest.approx(stats.ALPHA / m)
    want_n = stats.seeds_needed(1.0, marginal.std(ddof=1), stats.ALPHA / m)
    assert mar["seeds_needed"] == want_n and 5 < want_n < 20
    assert mar["detectable"] == pytest.approx(
        stats.detectable_effect(5, marginal.std(ddof=1), stats.ALPHA / m)
    )
    assert mar["detectable"] > abs(mar["mean"])  # not detectable at n = 5, as the verdict says
    assert out[3]["seeds_needed"] is None  # effect exactly 0: no number of seeds decides it
    assert out[3]["detectable"] > 0


def test_evaluate_family_edges():
    assert stats.evaluate_family([]) == []
    with pytest.raises(ValueError):
        stats.evaluate_family([{"d": np.ones(3), "direction": "up", "threshold": 0.0}])
    (r,) = stats.evaluate_family(
        [{"d": np.array([2.0, 2.0, 2.0]), "direction": "less", "threshold": 1.0}]
    )
    assert r["p"] == 0.0 and r["verdict"] == "contradicted"  # zero spread, off the threshold


def test_tost_p_equals_statsmodels_ttost_paired():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.normal(0.3, 1, 8), rng.normal(0, 1, 8)
        margin = float(rng.uniform(0.2, 2))
        ref = ttost_paired(a, b, -margin, margin)[0]
        assert stats.tost_p(a - b, margin) == pytest.approx(float(ref), rel=1e-9)


def test_the_corrected_resampled_t_follows_nadeau_and_bengio():
    """t = mean / (sd·√(1/n + n_test/n_train)) on n − 1 df, computed here by hand; overlap 0 is
    scipy's one-sample t."""
    from scipy import stats as sps

    d = np.array([0.4, -0.1, 0.9, 0.3, 0.5, 0.2, -0.3, 0.6])
    t = d.mean() / (d.std(ddof=1) * np.sqrt(1 / 8 + 360 / 1437))
    assert stats.paired_p(d, 0.0, 360 / 1437) == pytest.approx(2 * sps.t.sf(abs(t), 7))
    assert stats.paired_p(d, 0.0) == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue)
    m, lo, hi = stats.mean_ci(d, overlap=360 / 1437)
    assert hi - m == pytest.approx(
        sps.t.ppf(0.975, 7) * d.std(ddof=1) * np.sqrt(1 / 8 + 360 / 1437)
    )
