"""Every test type decides at most 5 % of the time at its null, checked by simulation: the rate
of decisions (supported or contradicted) over R simulated data sets at the null boundary must
stay within 0.05 + 3 Monte Carlo standard errors. The paired t-test, Holm's family, the ranking
test, the rank-sum and enrichment tests of an activation search and the width sweep's knee,
spread and past-threshold tests each go through the code the verdicts use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnclaims.stats import paired as stats
from nnclaims.stats import ranking, searchtrends, widthsweep

ALPHA = stats.ALPHA


def limit(reps: int) -> float:
    return ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps)


def decided(rows: list[dict]) -> int:
    return sum(r["verdict"] != "inconclusive" for r in stats.evaluate_family(rows))


@pytest.mark.parametrize("seeds", [5, 8])
def test_the_paired_t_test_at_its_margin(seeds):
    rng = np.random.default_rng(seeds)
    reps = 4000
    d = rng.normal(-1.0, 2.0, (reps, seeds))  # the true mean difference is the margin
    rate = sum(decided([{"d": x, "direction": "greater", "threshold": -1.0}]) for x in d[:500])
    rate += sum(  # the rest through the parts evaluate_family decides with (faster)
        stats.decide(x.mean(), stats.paired_p(x, -1.0), "greater", -1.0) != "inconclusive"
        for x in d[500:]
    )
    assert rate / reps <= limit(reps)
    assert rate / reps >= 2 * ALPHA - limit(reps)  # and not conservative: an exact test


def test_holms_family_of_12_tests_at_their_margins():
    rng = np.random.default_rng(1)
    reps = 4000
    d = rng.normal(0.0, 1.0, (reps, 12, 5))
    rows = lambda x: [{"d": t, "direction": "less", "threshold": 0.0} for t in x]  # noqa: E731
    hits = sum(decided(rows(x)) > 0 for x in d[:200])  # any wrong decision in the family
    for x in d[200:]:  # the rest through evaluate_family's parts: paired_p, holm, decide
        adj = stats.holm(np.array([stats.paired_p(t, 0.0) for t in x]))
        hits += any(
            stats.decide(t.mean(), p, "less", 0.0) != "inconclusive" for t, p in zip(x, adj)
        )
    assert hits / reps <= limit(reps)


@pytest.mark.parametrize("seeds", [5, 8])
def test_a_percentile_bootstrap_over_few_seeds_is_not_calibrated(seeds):
    """Why no verdict rests on one: the percentile bootstrap of a mean at its null (the p the
    ranking, knee and spread tests used) decides far more often than 5 % at 5 or 8 seeds."""
    rng = np.random.default_rng(seeds)
    reps = 1000
    hits = 0
    for _ in range(reps):
        x = rng.normal(size=seeds)
        boot = x[rng.integers(0, seeds, (999, seeds))].mean(1)
        tail = min(np.sum(boot <= 0) + 1, np.sum(boot >= 0) + 1) / 1000
        hits += 2 * tail < ALPHA
    assert hits / reps > limit(reps)


@pytest.mark.parametrize("seeds", [5, 8])
def test_the_ranking_test_at_its_null(seeds):
    """Two conditions whose rankings are unrelated (condition b has no arm effect, so every
    seed's τ-b is 0 in expectation: the margin of `ranking_not_reversed`): the per-seed t-test
    decides at most 5 %."""
    rng = np.random.default_rng(seeds)
    reps, arms = 2000, 6
    means = 60 + 2.0 * np.arange(arms)
    hits = 0
    for _ in range(reps):
        a = means + rng.normal(0, 3.0, (seeds, arms))
        b = 60 + rng.normal(0, 3.0, (seeds, arms))
        r = ranking.per_seed(a, b, 0.0)
        hits += decided([{"pre": r, "direction": "greater", "threshold": 0.0}])
    assert hits / reps <= limit(reps)


def test_the_rank_sum_test_of_a_search_at_its_null(monkeypatch):
    monkeypatch.setattr(searchtrends, "N_BOOT", 19)  # its interval only: the p is Mann-Whitney's
    rng = np.random.default_rng(2)
    reps = 2000
    hits = sum(
        searchtrends.ranksum(rng.normal(size=30), rng.normal(size=170))["p"] < ALPHA
        for _ in range(reps)
    )
    assert hits / reps <= limit(reps)


def test_the_enrichment_test_of_a_search_at_its_null():
    rng = np.random.default_rng(3)
    reps = 2000
    hits = 0
    for _ in range(reps):
        has = rng.random(200) < 0.3
        top = np.zeros(200, bool)
        top[rng.choice(200, 20, replace=False)] = True
        hits += searchtrends.enrichment(has, top)["p"] < ALPHA
    assert hits / reps <= limit(reps)


WIDTHS = np.array([8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256])


def test_the_knee_test_on_power_laws_finds_no_knee():
    """Curves without a knee (log loss linear in log width, with per-seed and per-width noise):
    the knee test's p falls below 5 % at most 5 % of the time, although the largest slope ratio
    exceeds 1 on nearly every one of them."""
    rng = np.random.default_rng(4)
    reps = 500
    hits = above_one = 0
    x = np.log2(WIDTHS)
    for i in range(reps):
        logs = 0.5 - 0.4 * x + rng.normal(0, 0.08, (5, 1)) + rng.normal(0, 0.05, (5, len(x)))
        t = 10.0**logs
        hits += widthsweep.knee_null_p(WIDTHS, t, i) < ALPHA
        above_one += widthsweep._ratio(WIDTHS, t)[0] > 1
    assert hits / reps <= limit(reps)
    assert above_one / reps > 0.9


def test_the_knee_test_finds_a_real_knee():
    rng = np.random.default_rng(5)
    x = np.log2(WIDTHS)
    bend = np.where(x < 5, -0.05 * x, -0.05 * 5 - 0.8 * (x - 5))  # flat, then a steep fall
    t = 10.0 ** (bend + rng.normal(0, 0.02, (5, len(x))))
    assert widthsweep.knee_null_p(WIDTHS, t, 0) < 0.01
    assert np.isnan(widthsweep.knee_null_p(WIDTHS, t[:2], 0))  # two seeds decide nothing


def test_the_spread_test_at_no_trend():
    rng = np.random.default_rng(6)
    reps = 300
    widths = WIDTHS[:8]
    hits = sum(
        widthsweep.spread_permutation_p(widths, rng.normal(size=(5, 8)), i) < ALPHA
        for i in range(reps)
    )
    assert hits / reps <= limit(reps)


def _sweep_rows(acc: np.ndarray, widths) -> pd.DataFrame:
    """A width sweep's tidy rows: acc (seeds, widths) test accuracy; every width fits."""
    rows = []
    for j, w in enumerate(widths):
        for s in range(acc.shape[0]):
            common = dict(dataset="digits", model="mlp", arm=f"w{w}", size=1, level=1.0,
                          freq=np.nan, seed=s, epoch=1, lr=0.01)  # fmt: skip
            rows.append({**common, "split": "test", "metric": "test_acc", "value": acc[s, j]})
            rows.append({**common, "split": "train", "metric": "fit_acc", "value": 100.0})
    return pd.DataFrame(rows)


def test_the_past_threshold_test_at_its_margin():
    rng = np.random.default_rng(7)
    reps = 300
    widths = [8, 16, 32, 64, 128]
    h = {"id": "past", "text": "t", "test": "past_threshold", "metric": "test_acc",
         "a": {"variant": ""}, "direction": "greater", "threshold": -1.0}  # fmt: skip
    common = {"id": "past", "direction": "greater", "threshold": -1.0}
    hits = 0
    for _ in range(reps):
        acc = 70 + rng.normal(0, 1.0, (5, len(widths)))
        acc[:, -1] -= 1.0  # the widest width sits at the margin below the threshold width
        row = widthsweep.values(_sweep_rows(acc, widths), h, "digits", common)
        hits += decided([row])
    assert hits / reps <= limit(reps)


def _equicorrelated(rng, reps, seeds, rho, mean=0.0):
    """d of `seeds` resplits of one pool: equicorrelated with correlation rho (Nadeau & Bengio's
    model of resampled test sets: rho = n_test / (n_test + n_train))."""
    shared = rng.normal(0, np.sqrt(rho), (reps, 1))
    return mean + shared + rng.normal(0, np.sqrt(1 - rho), (reps, seeds))


@pytest.mark.parametrize("seeds", [5, 8])
def test_the_corrected_resampled_t_at_its_margin_where_test_sets_overlap(seeds):
    """Digits' seeds resplit 1797 images 1437 / 360: their differences are correlated. The
    plain t decides far above 5 % there; the corrected one (overlap 360 / 1437) does not."""
    rng = np.random.default_rng(seeds)
    reps, overlap = 4000, 360 / 1437
    d = _equicorrelated(rng, reps, seeds, overlap / (1 + overlap))
    corrected = np.mean([stats.paired_p(x, 0.0, overlap) < ALPHA for x in d])
    plain = np.mean([stats.paired_p(x, 0.0) < ALPHA for x in d])
    assert corrected <= limit(reps)
    assert plain > 2 * limit(reps)  # the correction is needed: the plain test is not calibrated


@pytest.mark.parametrize("seeds,overlap", [(5, 0.0), (8, 0.0), (8, 360 / 1437)])
def test_the_equivalence_test_at_its_margin(seeds, overlap):
    """TOST: at a true difference of exactly the margin, "equivalent" at most 5 % of the time,
    through evaluate_family (in a family with its t-test)."""
    rng = np.random.default_rng(seeds)
    reps, margin = 2000, 0.5
    d = (_equicorrelated(rng, reps, seeds, overlap / (1 + overlap)) if overlap
         else rng.normal(0, 1, (reps, seeds))) + margin  # fmt: skip
    row = {"direction": "greater", "threshold": 0.0, "equivalence": margin, "overlap": overlap}
    eq = sum(stats.evaluate_family([{**row, "d": x}])[0]["verdict"] == "equivalent" for x in d)
    assert eq / reps <= limit(reps)
    # and it can decide: at a true difference of 0 with 40 seeds, nearly always equivalent
    d0 = rng.normal(0, 1, (200, 40)) * 0.5
    eq0 = sum(stats.evaluate_family([{**row, "overlap": 0.0, "d": x}])[0]["verdict"]
              == "equivalent" for x in d0)  # fmt: skip
    assert eq0 / 200 > 0.8


def test_the_peak_test_at_its_null_boundary():
    """The intersection-union peak test when one dip is real (−3 points) and the other is not
    there (0): a dip is supported at most 5 % of the time."""
    rng = np.random.default_rng(11)
    reps, seeds = 2000, 5
    widths = [8, 11, 16, 23, 32, 45, 64]
    hits = 0
    for _ in range(reps):
        t = pd.DataFrame(rng.normal(0, 1, (seeds, len(widths))) + 60, columns=widths)
        t[45] -= 3.0  # the threshold (45) dips below its wider neighbour only
        t[11] -= 3.0  # ... the narrower width (11, four steps down) sits as low as the threshold
        row = widthsweep._peak(t, 45)
        v = stats.evaluate_family([{"pre": row["pre"], "direction": "less", "threshold": 0.0}])
        hits += v[0]["verdict"] == "supported"
    assert hits / reps <= limit(reps)
