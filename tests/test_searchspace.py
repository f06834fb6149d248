"""The activation search: its space against numpy, its features, its rank test against
scikit-learn and scipy, and the kind end to end against a classification run of a function."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import special
from sklearn.metrics import roc_auc_score

from nnclaims.core.hparams import RunSpec
from nnclaims.kinds import actsearch
from nnclaims.kinds.classify import run_classify
from nnclaims.nets import activations, searchspace
from nnclaims.stats import searchtrends, verdicts

EPS = searchspace.EPS
# independent references: numpy and scipy, in float64
UNARY_NP = {
    "x": lambda v: v,
    "neg": lambda v: -v,
    "abs": np.abs,
    "sq": lambda v: v**2,
    "cube": lambda v: v**3,
    "sqrtabs": lambda v: np.sqrt(np.abs(v)),
    "addone": lambda v: v + 1,
    "logabs": lambda v: np.log(np.abs(v) + EPS),
    "exp": np.exp,
    "sin": np.sin,
    "cos": np.cos,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "sinc": lambda v: np.where(v == 0, 1.0, np.sin(v) / np.where(v == 0, 1.0, v)),
    "relu": lambda v: np.maximum(v, 0),
    "minzero": lambda v: np.minimum(v, 0),
    "sigmoid": special.expit,
    "softplus": lambda v: np.logaddexp(0, v),
    "gauss": lambda v: np.exp(-(v**2)),
    "erf": special.erf,
    "one": np.ones_like,
}
BINARY_NP = {
    "add": np.add,
    "mul": np.multiply,
    "sub": np.subtract,
    "div": lambda a, b: a / (b + EPS),
    "max": np.maximum,
    "min": np.minimum,
    "sigmul": lambda a, b: special.expit(a) * b,
    "gaussdiff": lambda a, b: np.exp(-((a - b) ** 2)),
    "expabsdiff": lambda a, b: np.exp(-np.abs(a - b)),
}


def test_reference_tables_cover_the_space():
    assert set(UNARY_NP) == set(searchspace.UNARY)
    assert set(BINARY_NP) == set(searchspace.BINARY)


@pytest.mark.parametrize("u", sorted(searchspace.UNARY))
def test_every_unary_function_against_numpy_with_its_gradient(u):
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    expr = "x" if u == "x" else f"{u}(x)"
    fn = searchspace.build(expr)
    np.testing.assert_allclose(fn(x).numpy(), UNARY_NP[u](x.numpy()), rtol=1e-12, atol=1e-12)
    if u not in ("one", "x"):  # away from the kinks of |x|, max, min at 0
        xs = torch.tensor([-2.3, -0.7, 0.4, 1.9], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(fn, (xs,))


@pytest.mark.parametrize("b", sorted(searchspace.BINARY))
def test_every_binary_function_against_numpy_with_its_gradient(b):
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    fn = searchspace.build(f"{b}(x,sin(x))")
    want = BINARY_NP[b](x.numpy(), np.sin(x.numpy()))
    np.testing.assert_allclose(fn(x).numpy(), want, rtol=1e-12, atol=1e-12)
    xs = torch.tensor([-2.3, -0.7, 0.4, 1.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (xs,))


def test_a_near_zero_denominator_and_overflow_are_data_not_a_crash():
    x = torch.tensor([-EPS, 0.0, 100.0], dtype=torch.float32, requires_grad=True)
    y = searchspace.build("div(x,x)")(x)  # x / (x + ε): the first divides by 0
    assert not torch.isfinite(y[0]) and torch.isfinite(y[1:]).all()
    big = searchspace.build("exp(exp(x))")(x)
    assert torch.isinf(big[2])
    big.sum().backward()  # inf and NaN flow through backward without raising


def test_names_parse_back_and_unknown_functions_are_named():
    for f in searchspace.sample(50, seed=3):
        tree = searchspace.parse(f)
        assert tree != "x"
        assert activations.get(f) is activations.get(f)  # built once per name
    with pytest.raises(ValueError, match="'tan' is not a unary or binary"):
        searchspace.parse("add(x,tan(x))")
    with pytest.raises(ValueError, match="takes two inputs"):
        searchspace.parse("add(x)")
    assert searchspace.formula(searchspace.SWISH) == "x · σ(x)"
    assert searchspace.formula("expabsdiff(x,addone(x))") == "exp(−|x − (x + 1)|)"


def test_sample_is_seeded_distinct_and_shaped_as_the_paper_s_core_units():
    a, b = searchspace.sample(200, seed=7), searchspace.sample(200, seed=7)
    assert a == b and len(set(a)) == 200
    assert searchspace.sample(200, seed=8) != a
    units = [searchspace.features(f)["units"] for f in a]
    assert set(units) == {1, 2} and 70 < units.count(1) < 130  # one or two units, evenly
    raw = sum(searchspace.has_feature(f, "raw_x") for f in a)
    assert 40 < raw < 100  # P_IDENTITY = 1/4 makes b(x, g(x)) common enough to test
    for f in a:  # a second unit's left input is the first unit, through one unary function
        t = searchspace.parse(f)
        if searchspace.features(f)["units"] == 2:
            inner = t[1] if t[1][0] in searchspace.BINARY else t[1][1]
            assert inner[0] in searchspace.BINARY


@pytest.mark.parametrize(
    "expr, want",
    [
        (searchspace.SWISH, {"units": 1, "raw_x": True, "periodic": False}),
        ("add(x,sin(x))", {"raw_x": True, "periodic": True, "periodic_x": True}),
        ("mul(x,cos(x))", {"raw_x": True, "periodic": True, "periodic_x": False}),
        ("div(x,cosh(x))", {"division": True, "unbounded_division": False}),
        ("div(x,sigmoid(x))", {"division": True, "unbounded_division": True}),
        (
            "add(tanh(div(x,one(x))),abs(x))",
            {"units": 2, "raw_x": False, "division": True, "unbounded_division": False},
        ),  # fmt: skip
        ("sub(sin(mul(x,x)),x)", {"units": 2, "raw_x": True, "periodic_x": True}),
        (searchspace.RELU, {"units": 0, "raw_x": False}),
        # one(...) ignores its input: a constant 1, with no unit or division inside
        ("gaussdiff(one(div(x,x)),sinh(x))", {"units": 1, "division": False}),
    ],
)
def test_features_read_the_trends_off_a_name(expr, want):
    got = searchspace.features(expr)
    assert {k: got[k] for k in want} == want


def test_the_rank_statistic_is_scikit_learn_s_auc_and_its_p_scipy_s_mann_whitney():
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(60, 5, 40), 0)  # rounded: ties, as at chance accuracy
    b = np.round(rng.normal(57, 5, 70), 0)
    r = searchtrends.ranksum(a, b, seed=1)
    labels = np.r_[np.ones(len(a)), np.zeros(len(b))]
    assert r["mean"] == pytest.approx(roc_auc_score(labels, np.r_[a, b]), abs=1e-12)
    from scipy.stats import mannwhitneyu

    assert r["p"] == pytest.approx(mannwhitneyu(a, b).pvalue)
    assert r["lo"] < r["mean"] < r["hi"] and r["n"] == 110
    assert np.isnan(searchtrends.ranksum(a[:1], b, seed=1)["p"])  # one function tests nothing


def _search_table(shift: float) -> pd.DataFrame:
    """A fake search: functions of one unit score `shift` points above those of two."""
    rng = np.random.default_rng(1)
    fs = searchspace.sample(80, seed=11)
    vals = [
        60 + rng.normal(0, 2) + (shift if searchspace.features(f)["units"] == 1 else 0) for f in fs
    ]
    return pd.DataFrame(
        {"dataset": "d", "arm": [f"cand:{f}" for f in fs], "metric": "val_acc", "split": "val",
         "seed": 10000, "value": vals}
    )  # fmt: skip


@pytest.mark.parametrize("shift, verdict", [(4.0, "supported"), (-4.0, "contradicted")])
def test_a_trend_is_decided_by_its_rank_test(shift, verdict):
    h = {"id": "simple", "text": "t", "test": "ranksum", "metric": "val_acc",
         "a": {"with": "units1"}, "b": {"with": "units2"}, "direction": "greater",
         "threshold": 0.5}  # fmt: skip
    r = verdicts.evaluate_hypothesis(_search_table(shift), h, "d")
    assert r["verdict"] == verdict and r["n"] == 80
    assert (r["diff"] > 0.5) == (shift > 0)


def test_the_search_ranks_its_functions_and_trains_the_best_like_any_arm(tmp_path):
    from nnclaims.data.datasets import Arrays

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(300, 8)), dtype=torch.float32)
    y = torch.tensor((x[:, 0] > 0).numpy() * 1 + (x[:, 1] > 0).numpy(), dtype=torch.long)
    arrays = Arrays(x[:200], y[:200], x[200:], y[200:])
    spec = RunSpec("actsearch", "found", (searchspace.SWISH,), dataset="toy", width=8,
                   epochs=2, batch_size=20, seeds=(0, 1), candidates=10, keep=2,
                   search_epochs=1, lr_grid=(0.003, 0.01, 0.03), lr_search="walk",
                   tune_seeds=1)  # fmt: skip
    rows = actsearch.run_actsearch(spec, arrays, tmp_path / "ckpt")
    cands = rows[rows.arm.str.startswith("cand:")]
    assert len(cands) == 10 and set(cands.seed) == {actsearch.SEARCH_SEED}
    refs = set(rows[rows.arm.str.startswith("ref:")].arm)
    assert "ref:" + searchspace.RELU in refs
    best = actsearch.ranked(rows, 100 / 3)
    scores = [s for _, s in best]
    assert scores == sorted(scores, reverse=True)
    # found1 is the best function, trained exactly as a classification run of it would be
    alone = run_classify(
        dataclasses.replace(
            spec, kind="classify", arm="found1", activation=(best[0][0],), params=()
        ),
        arrays,
    )
    mine = rows[(rows.arm == "found1") & (rows.split != "val")].reset_index(drop=True)
    theirs = alone[alone.split != "val"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, theirs)
    assert math.isfinite(mine[mine.metric == "test_acc"].value.iloc[-1])


def _fisher_two_sided(t) -> float:
    """Fisher's exact test from the hypergeometric law (math.comb): the independent reference."""
    (a, b), (c, d) = t
    row, col, n = a + b, a + c, a + b + c + d

    def pr(x):
        return math.comb(col, x) * math.comb(n - col, row - x) / math.comb(n, row)

    p0 = pr(a)
    lo, hi = max(0, row + col - n), min(row, col)
    return min(1.0, sum(pr(x) for x in range(lo, hi + 1) if pr(x) <= p0 * (1 + 1e-7)))


def test_enrichment_is_fisher_s_exact_test_on_the_best_tenth():
    s = pd.Series(np.r_[np.arange(100.0), [99.0, 99.0]])  # a tie at the top
    top = searchtrends.top_mask(s)
    assert top.sum() == 10  # round(0.1 × 102) = 10 best, the tied 99s all in
    has = np.zeros(len(s), dtype=bool)
    has[[101, 100, 99, 97, 95, 10, 20, 30]] = True  # 5 of the best, 3 of the rest
    r = searchtrends.enrichment(has, top)
    t = [[5, 5], [3, 89]]
    assert r["p"] == pytest.approx(_fisher_two_sided(t), rel=1e-9)
    assert r["mean"] > 1 and r["lo"] > 1 and r["n"] == 102
    assert np.isnan(searchtrends.enrichment(np.zeros(102, bool), top)["p"])  # nothing to test


def test_claims_check_names_a_bad_search_hypothesis():
    import copy

    from conftest import ROOT

    from nnclaims import cli
    from nnclaims.plan import claims
    from nnclaims.plan import runs as plan

    doc = claims.load(ROOT / "config/claims.yaml")
    cfg = cli.load_config(str(ROOT / "config/test.yaml"), None, None)
    p = plan.make_plan(cfg)
    claims.check(doc, cfg, p)
    hs = {h["id"]: i for i, h in enumerate(doc["search_trends"]["hypotheses"])}
    bad = copy.deepcopy(doc)
    bad["search_trends"]["hypotheses"][hs["raw_x_on_top"]]["threshold"] = 0.5
    with pytest.raises(claims.ClaimsError, match="enrichment compares groups a and b against 1.0"):
        claims.check(bad, cfg, p)
    bad = copy.deepcopy(doc)
    bad["mish"]["hypotheses"].append(copy.deepcopy(doc["search_trends"]["hypotheses"][0]))
    with pytest.raises(claims.ClaimsError, match="claims.mish has no `activation_search`"):
        claims.check(bad, cfg, p)
    bad = copy.deepcopy(doc)
    bad["mish"]["hypotheses"][0]["a"] = {"with": "raw_x"}
    with pytest.raises(claims.ClaimsError, match="selects searched functions"):
        claims.check(bad, cfg, p)


def test_a_rank_test_among_the_functions_that_trained_leaves_the_failures_out():
    """Functions of two units that diverged (NaN) or sat at chance: counted as failures in the
    plain test (which then mostly counts them), left out with `trained: true`."""
    df = _search_table(0.0)
    two = df["arm"].map(lambda a: searchspace.features(a[5:])["units"] == 2).to_numpy()
    idx = np.flatnonzero(two)[:10]
    df.loc[idx[:5], "value"] = np.nan  # diverged
    df.loc[idx[5:], "value"] = 12.0  # within 5 points of chance
    base = {"id": "simple", "text": "t", "test": "ranksum", "metric": "val_acc",
            "direction": "greater", "threshold": 0.5}  # fmt: skip
    plain = {**base, "a": {"with": "units1"}, "b": {"with": "units2"}}
    r = verdicts.evaluate_hypothesis(df, plain, "d")
    assert "(0 and 10 of them did not train)" in r["note"] and r["diff"] > 0.55
    kept = {**base, "a": {"with": "units1", "trained": True},
            "b": {"with": "units2", "trained": True}}  # fmt: skip
    r2 = verdicts.evaluate_hypothesis(df, kept, "d")
    assert r2["n"] == r["n"] - 10 and abs(r2["diff"] - 0.5) < abs(r["diff"] - 0.5)
    s = searchtrends.scores(df, "d")
    want = s[~s.index.isin([a[5:] for a in df.loc[idx, "arm"]])]  # plain pandas: drop the ten
    units = np.array([searchspace.features(f)["units"] for f in want.index])
    assert r2["diff"] == pytest.approx(searchtrends.auc(want[units == 1], want[units == 2]))
