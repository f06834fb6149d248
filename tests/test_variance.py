"""The variance components of a crossed design (nnclaims.stats.variance) against statsmodels' REML
(MixedLM with crossed variance components) on balanced data, their interval's coverage, and
the tuning budget's expected best score against brute force."""

import numpy as np
import pandas as pd
import pytest

from nnclaims.stats import variance


def _crossed(rng, d, i, sd_draw, sd_seed, sd_res):
    return (rng.normal(0, sd_draw, (d, 1)) + rng.normal(0, sd_seed, (1, i))
            + rng.normal(0, sd_res, (d, i)))  # fmt: skip


def test_anova_estimates_equal_statsmodels_reml_on_balanced_data():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    y = _crossed(rng, 6, 6, 2.0, 1.0, 0.5) + 60
    c = variance.anova(y)
    assert min(c.values()) > 0  # positive estimates: REML's and ANOVA's agree there
    d, i = np.meshgrid(range(6), range(6), indexing="ij")
    df = pd.DataFrame({"y": y.ravel(), "draw": d.ravel(), "seed": i.ravel(), "g": 1})
    vc = {"draw": "0 + C(draw)", "seed": "0 + C(seed)"}
    fit = smf.mixedlm("y ~ 1", df, groups="g", re_formula="0", vc_formula=vc).fit(reml=True)
    ref = dict(zip(fit.model.exog_vc.names, fit.vcomp))
    assert c["draw"] == pytest.approx(ref["draw"], rel=1e-3)
    assert c["seed"] == pytest.approx(ref["seed"], rel=1e-3)
    assert c["residual"] == pytest.approx(fit.scale, rel=1e-3)


def test_the_cells_come_back_from_the_row_seeds():
    s = pd.Series([1.0, 2.0, 3.0, 4.0], index=[1000 * 1 + 0, 0, 1000 * 1 + 1, 1])
    assert variance.cells(s, 1000).tolist() == [[2.0, 4.0], [1.0, 3.0]]


def test_the_interval_of_tau_over_sigma_covers_the_truth():
    """Coverage of the generalized confidence interval of τ/σ at 5 × 5, with the draw's SD
    equal to, half and twice the within-draw SD: within 3 Monte Carlo SE of 95 % or above."""
    rng = np.random.default_rng(7)
    reps = 300
    for ratio in (0.5, 1.0, 2.0):
        hits = 0
        for r in range(reps):
            y = _crossed(rng, 5, 5, ratio, np.sqrt(0.5), np.sqrt(0.5))
            c = variance.components(y, reps=4000, seed=r)
            hits += c["lo"] <= ratio <= c["hi"]
        assert hits / reps >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / reps), ratio


def test_the_expected_best_of_n_rates_is_the_mean_over_every_subset():
    """tuning.expected_best against brute force: the mean, over every n-subset of the rates,
    of its best score."""
    from itertools import combinations

    from nnclaims.stats import tuning

    scores = np.array([61.2, 65.0, 66.4, 64.1, 58.3, 66.4, 40.0])
    for n in range(1, len(scores) + 1):
        brute = np.mean([max(c) for c in combinations(scores, n)])
        assert tuning.expected_best(scores, n) == pytest.approx(brute)
