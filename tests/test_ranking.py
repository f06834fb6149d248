"""Ranking agreement (Kendall's τ-b within each seed, t-tested over seeds) as a hypothesis."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from scipy import stats as sps

from nnclaims import cli
from nnclaims.plan import claims
from nnclaims.plan import runs as plan
from nnclaims.report import analysis
from nnclaims.stats import ranking


def test_tau_b_equals_scipy_with_and_without_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y = rng.integers(0, 4, 9).astype(float), rng.normal(size=9)
        if rng.random() < 0.5:
            y = rng.integers(0, 3, 9).astype(float)
        want = sps.kendalltau(x, y).statistic
        got = ranking.tau_b(x, y)
        assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)


def _two_conditions(shift: np.ndarray, seeds=8, noise=0.5, seed=1):
    """(seeds, arms) accuracies: condition b has arm means 60 + 2 i; a adds `shift` per arm."""
    rng = np.random.default_rng(seed)
    means = 60 + 2.0 * np.arange(len(shift))
    b = means + rng.normal(0, noise, (seeds, len(shift)))
    a = means + shift + rng.normal(0, noise, (seeds, len(shift)))
    return a, b


def test_per_seed_tau_decides_agreement_reversal_and_says_nothing_on_few_seeds():
    same = np.zeros(6)
    a, b = _two_conditions(same)
    r = ranking.per_seed(a, b, 0.5)
    want = np.mean([sps.kendalltau(x, y).statistic for x, y in zip(a, b)])  # scipy, per seed
    assert r["mean"] == pytest.approx(want) and r["lo"] > 0.5 and r["p"] < 0.01
    assert r["p"] == pytest.approx(
        sps.ttest_1samp([sps.kendalltau(x, y).statistic for x, y in zip(a, b)], 0.5).pvalue
    )
    a, b = _two_conditions(-4.0 * np.arange(6))  # tuning reverses the order
    r = ranking.per_seed(a, b, 0.5)
    assert r["mean"] == pytest.approx(-1.0) and r["hi"] < 0.5 and r["p"] < 0.01
    a, b = _two_conditions(np.zeros(6), noise=8.0)  # within a seed the order drowns in noise
    r = ranking.per_seed(a, b, 0.5)
    assert r["hi"] < 0.5 and r["p"] < 0.05 and r["mean"] < r["tau_of_means"]
    r = ranking.per_seed(*_two_conditions(same, seeds=2), 0.5)
    assert np.isnan(r["p"]) and r["n"] == 2  # fewer than MIN_SEEDS: undecided


def _table(a: np.ndarray, b: np.ndarray, arms: list[str]) -> pd.DataFrame:
    rows = []
    for tag, v in (("shared", a), ("", b)):
        for j, arm in enumerate(arms):
            label = f"{arm}_{tag}" if tag else arm
            for s in range(v.shape[0]):
                for e in (1, 2):
                    rows.append(dict(dataset="digits", arm=label, size=2, level=1.0, freq=np.nan,
                                     seed=s, epoch=e, lr=0.01, split="test", metric="test_acc",
                                     value=v[s, j]))  # fmt: skip
    return pd.DataFrame(rows)


def test_a_kendall_hypothesis_is_decided_with_the_claims_family():
    arms = ["relu", "swish", "gelu", "elu", "selu"]
    a, b = _two_conditions(np.zeros(5), seeds=6)
    df = _table(a, b, arms)
    rank = {"id": "agree", "text": "t", "test": "kendall", "metric": "test_acc",
            "a": {"variant": "shared"}, "b": {"variant": ""}, "direction": "greater",
            "threshold": 0.5}  # fmt: skip
    paired = {"id": "p", "text": "t", "metric": "test_acc", "a": {"arm": "swish"},
              "b": {"arm": "relu"}, "direction": "greater", "threshold": 0.0}  # fmt: skip
    ev = analysis.evaluate_claim(df, {"hypotheses": [rank, paired]})
    r = {h["id"]: h for h in ev["hypotheses"]}["agree"]
    assert ev["family"] == 2 and r["test"] == "kendall" and r["verdict"] == "supported"
    assert [p["b"] for p in r["arms"]] == arms and [p["a"] for p in r["arms"]][0] == "relu_shared"
    want = np.mean([sps.kendalltau(x, y).statistic for x, y in zip(a, b)])  # scipy, per seed
    assert r["diff"] == pytest.approx(want)
    assert "τ-b of the mean values 1.00" in r["note"]  # descriptive, beside it
    f = analysis.fmt_hypothesis(r)
    assert f["ours"] == f"mean τ-b {want:.2f} over 5 arms" and f["test"].startswith(
        "mean τ-b > 0.5"
    )


def test_claims_check_names_a_bad_kendall_hypothesis():
    doc = claims.load(ROOT / "config/claims.yaml")
    cfg = cli.load_config(str(ROOT / "config/test.yaml"), None, None)
    p = plan.make_plan(cfg)
    claims.check(doc, cfg, p)
    bad = copy.deepcopy(doc)
    bad["shared_vs_tuned"]["hypotheses"][0]["a"] = {"variant": "tuned"}
    with pytest.raises(claims.ClaimsError, match="variant 'tuned' and variant ''"):
        claims.check(bad, cfg, p)
    bad = copy.deepcopy(doc)
    bad["shared_vs_tuned"]["hypotheses"][0]["a"] = {"arm": "relu_shared"}
    with pytest.raises(claims.ClaimsError, match="test kendall ranks a variant's arms"):
        claims.check(bad, cfg, p)


def test_a_variant_made_of_the_same_runs_ranks_nothing():
    """Where each arm's validated lr is the shared lr, both variants are the same runs and agree
    by construction (the default run's MNIST-1D arms all validated 0.01): inconclusive, said."""
    arms = ["relu", "swish", "gelu", "elu", "selu"]
    _, b = _two_conditions(np.zeros(5), seeds=6)
    rank = {"id": "agree", "text": "t", "test": "kendall", "metric": "test_acc",
            "a": {"variant": "shared"}, "b": {"variant": ""}, "direction": "greater",
            "threshold": 0.5}  # fmt: skip
    r = analysis.evaluate_claim(_table(b.copy(), b, arms), {"hypotheses": [rank]})["hypotheses"][0]
    assert r["diff"] == pytest.approx(1.0) and r["verdict"] == "inconclusive"
    assert r["note"] == "5 of 5 arms are the same runs in both variants: nothing to rank"


def test_a_variant_arm_is_named_after_its_activation():
    from nnclaims.report.plotting import label

    assert label("swish_shared") == "Swish-1, shared lr"
    assert label("relu_cnn") == "ReLU (CNN)"  # its own entry
    assert label("gelu_wide") == "GELU (wide)"
    assert label("cand:relu+tanh") == "cand:relu+tanh"
