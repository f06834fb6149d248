"""Each verdict answers its source: one pre-declared primary hypothesis per source decides the
claim for it, secondary tests qualify it and never overturn it, each family has its own Holm
correction, and a model that did not train is flagged and counted as a diverged one is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from statsmodels.stats.multitest import multipletests
from test_verdicts import _table

from nnclaims.core.testtype import ClaimsError
from nnclaims.plan import claims
from nnclaims.report import analysis
from nnclaims.report import pdf as report


def _hyp(hid, a, b, direction="greater", threshold=0.0, **kw):
    return {"id": hid, "text": f"{a} vs {b}", "metric": "test_acc", "a": {"arm": a},
            "b": {"arm": b}, "direction": direction, "threshold": threshold, **kw}  # fmt: skip


SEEDS = np.array([[0.4, -0.3, 0.1, -0.2, 0.0]])


@pytest.fixture
def df():
    base = np.full((2, 5), 70.0)
    return _table({
        "relu": base,
        "better": base + 3 + SEEDS,  # clearly above relu
        "worse": base - 3 + SEEDS,   # clearly below relu
        "same": base + SEEDS,        # no difference
    })  # fmt: skip


def test_a_contradicted_secondary_test_does_not_overturn_a_supported_primary(df):
    claim = {"hypotheses": [_hyp("main", "better", "relu", primary=True),
                            _hyp("side", "worse", "relu")]}  # fmt: skip
    ev = analysis.evaluate_claim(df, claim)
    res = {r["id"]: r for r in ev["hypotheses"]}
    assert res["main"]["verdict"] == "supported" and res["side"]["verdict"] == "contradicted"
    assert ev["verdict"] == "supported" and ev["by_dataset"] == {"digits": "supported"}
    assert ev["decided_by_overall"] == "main" and res["side"]["role"] == "secondary"
    # the primary need not come first
    claim["hypotheses"].reverse()
    assert analysis.evaluate_claim(df, claim)["verdict"] == "supported"


def test_sources_that_predict_opposite_outcomes_get_separate_verdicts(df):
    claim = {
        "parts": {"one": "A: better beats relu", "two": "B: better loses to relu"},
        "hypotheses": [
            _hyp("a_beats", "better", "relu", part="one"),
            _hyp("b_loses", "better", "relu", direction="less", part="two"),
        ],
    }
    ev = analysis.evaluate_claim(df, claim)
    parts = {p["part"]: p for p in ev["parts"]}
    assert parts["one"]["verdict"] == "supported" and parts["two"]["verdict"] == "contradicted"
    assert ev["verdict"] == "supported"  # the claim's own line: its first source's
    rows = analysis.headline(claim, ev)
    assert [(r["part"], r["verdict"]) for r in rows] == [
        ("A: better beats relu", "supported"), ("B: better loses to relu", "contradicted")
    ]  # fmt: skip


def test_each_family_has_its_own_holm_correction_as_statsmodels_computes_it(df):
    hyps = [_hyp("p", "same", "relu", primary=True)]
    hyps += [_hyp(f"s{i}", a, "relu") for i, a in enumerate(["better", "worse", "same"])]
    ev = analysis.evaluate_claim(df, {"hypotheses": hyps})
    rows = ev["hypotheses"]
    secondary = [r for r in rows if r["role"] == "secondary"]
    want = multipletests([r["p"] for r in secondary], method="holm")[1]
    assert np.allclose([r["p_holm"] for r in secondary], want)
    (primary,) = [r for r in rows if r["role"] == "primary"]
    assert primary["p_holm"] == pytest.approx(primary["p"])  # a family of one
    assert ev["families"] == {"primary": 1, "secondary": 3}


def test_two_primaries_for_one_source_are_refused(tmp_path):
    doc = yaml.safe_load((ROOT / "config/claims.yaml").read_text())
    doc["mish"]["hypotheses"][1]["primary"] = True
    f = tmp_path / "claims.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    with pytest.raises(ClaimsError, match="mish: two hypotheses of the claim say primary: true"):
        claims.load(f)


def test_the_claims_file_names_a_primary_for_every_claim_and_source():
    doc = claims.load(ROOT / "config/claims.yaml")
    for cid, c in doc.items():
        for part in c.get("parts") or [None]:
            mine = [h for h in c["hypotheses"] if h.get("part") == part and h.get("primary")]
            assert len(mine) == 1, (cid, part)


def test_the_abstract_names_the_test_behind_each_verdict_and_its_estimate(df):
    claim = {"title": "Better", "hypotheses": [_hyp("main", "better", "relu", primary=True)]}
    ev = analysis.evaluate_claim(df, claim)
    c = {"title": "Better", "verdict": ev["verdict"], "decided_by": ev["decided_by_overall"],
         "verdicts_by_dataset": ev["by_dataset"], "parts": [],
         "hypotheses": [analysis.fmt_hypothesis(r) for r in ev["hypotheses"]]}  # fmt: skip
    text = report.abstract([c], {"datasets": ["digits"], "seeds": 5})
    (row,) = analysis.headline(claim, ev)
    c["headline"] = row and [row]
    text = report.abstract([c], {"datasets": ["digits"], "seeds": 5})
    est = f"digits {row['estimate']:+.2f} [{row['lo']:.2f}, {row['hi']:.2f}] points"
    assert f"Better supported (by better vs relu: {est})" in text
    assert "Of the claims, 1 supported" in text


def test_a_model_that_did_not_train_is_flagged_and_an_arm_of_them_decides_nothing():
    rng = np.random.default_rng(0)
    flat = 14.0 + rng.normal(0, 0.5, size=(20, 5))  # x³ at 4 layers: flat near chance
    good = 60.0 + np.linspace(0, 10, 20)[:, None] + rng.normal(0, 0.5, size=(20, 5))
    df = _table({"cube": flat, "relu": good})
    found = analysis.untrained(df)
    assert sorted(found["seed"]) == [0, 1, 2, 3, 4] and set(found["arm"]) == {"cube"}
    assert set(found["why"]) == {"near chance"}
    text = analysis.diverged(df)
    assert "did not train" in text and "x³ on digits" in text and "5 of 5 seeds" in text
    ev = analysis.evaluate_claim(df, {"hypotheses": [_hyp("h", "relu", "cube")]})
    (r,) = ev["hypotheses"]
    assert r["verdict"] == "inconclusive" and "did not train" in r["note"]
    # one trained arm beside it: nothing flagged
    assert analysis.diverged(_table({"relu": good})) == "none"


def test_arms_chosen_on_validation_not_the_per_seed_extremes_on_test():
    """The polynomial test: one arm per side, chosen once by its validation accuracy (at the lr
    it trained at), then compared on test like any arm. The per-seed max/min on test, which
    the validation choice replaced, leans toward the extremes."""
    rng = np.random.default_rng(0)
    test = {"p1": 61.0, "p2": 60.0, "n1": 62.0, "n2": 63.0}
    val = {"p1": 58.0, "p2": 59.5, "n1": 64.0, "n2": 62.0}  # p2 best, n2 worst on validation
    df = _table({a: np.full((2, 5), m) + rng.normal(0, 1.0, (2, 5)) for a, m in test.items()})
    rows = []
    for arm, v in val.items():
        for lr in (0.01, 0.1):  # the candidate the arm did not train at must not count
            for s in (0, 1):
                rows.append(dict(dataset="digits", model="mlp", arm=arm, size=2, level=1.0,
                                 freq=np.nan, seed=s, epoch=2, lr=lr, split="val",
                                 metric="val_acc", value=v if lr == 0.01 else 99.0))  # fmt: skip
    df = pd.concat([df.assign(split=df["split"]), pd.DataFrame(rows)], ignore_index=True)
    h = {"id": "poly", "text": "t", "metric": "test_acc", "direction": "less", "threshold": 0.0,
         "a": {"arms": ["p1", "p2"], "of": "best_val"},
         "b": {"arms": ["n1", "n2"], "of": "worst_val"}}  # fmt: skip
    (r,) = analysis.evaluate_claim(df, {"hypotheses": [h]})["hypotheses"]
    assert r["note"] == "chosen on validation: a p2, b n2"
    test_rows = df[(df.metric == "test_acc")].groupby(["arm", "seed"])["value"].mean()
    want = (test_rows["p2"] - test_rows["n2"]).mean()  # plain pandas: p2 − n2, paired by seed
    assert r["diff"] == pytest.approx(want)
    per_seed = h | {"a": {"arms": ["p1", "p2"], "of": "max"}, "b": {"arms": ["n1", "n2"],
                                                                    "of": "min"}}  # fmt: skip
    (old,) = analysis.evaluate_claim(df, {"hypotheses": [per_seed]})["hypotheses"]
    assert old["diff"] > r["diff"]  # the extremes drift toward each other


def test_the_share_of_seed_pairs_with_a_above_b_and_its_exact_interval():
    from statsmodels.stats.proportion import proportion_confint

    from nnclaims.stats import paired as stats

    d = np.array([0.4, -0.1, 1.2, 0.3, np.nan, 0.8])
    k, n, lo, hi = stats.share_above(d)
    assert (k, n) == (4, 5)
    assert (lo, hi) == pytest.approx(proportion_confint(4, 5, alpha=0.05, method="beta"))
    df = _table({"a": np.full((2, 5), 70.0) + SEEDS, "b": np.full((2, 5), 70.0)})
    (r,) = analysis.evaluate_claim(df, {"hypotheses": [_hyp("h", "a", "b")]})["hypotheses"]
    assert "P(a > b) 2/5 seeds [0.05, 0.85]" in analysis.fmt_hypothesis(r)["note"]


def test_a_hypothesis_changed_after_its_data_is_listed_from_git(tmp_path):
    """Each claim's hypotheses now, against config/claims.yaml at the commit that trained the
    oldest seed the claim reads: a changed margin and an added hypothesis are named; an
    unchanged one is not."""
    import subprocess

    from nnclaims.report import frozen

    def git(*args):
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}  # fmt: skip
        return subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    doc = {"c": {"title": "C", "hypotheses": [_hyp("kept", "a", "b"), _hyp("moved", "a", "b")]}}
    (tmp_path / "config").mkdir()
    f = tmp_path / "config/claims.yaml"
    f.write_text(yaml.safe_dump(doc))
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "declared")
    trained = git("rev-parse", "HEAD")
    doc["c"]["hypotheses"][1]["threshold"] = -5.0  # a laxer margin, after the data
    doc["c"]["hypotheses"].append(_hyp("new", "a", "b", direction="less"))
    f.write_text(yaml.safe_dump(doc))
    git("commit", "-q", "-am", "after the data")
    found = frozen.changed_since(doc, {"c": {trained}}, cwd=str(tmp_path))
    assert len(found) == 2
    assert "“a vs b” changed (threshold) after commit" in found[0]
    assert found[1].endswith(f"added after commit {trained[:7]} trained the oldest seed it reads")


def test_loss_auc_is_the_mean_training_loss_up_to_an_epoch():
    rng = np.random.default_rng(3)
    rows = []
    for arm in ("hat", "relu"):
        for s in range(4):
            for e in range(1, 21):
                rows.append(dict(dataset="digits", model="mlp", arm=arm, size=2, level=1.0,
                                 freq=np.nan, seed=s, epoch=e, lr=0.01, split="train",
                                 metric="train_loss", value=float(rng.random())))  # fmt: skip
    df = pd.DataFrame(rows)
    got = analysis.select(df, "loss_auc", "hat", dataset="digits", epoch=0.1)
    h = df[(df.arm == "hat") & (df.epoch <= 2)]  # 10 % of 20 epochs: epochs 1-2
    assert got.to_numpy() == pytest.approx(h.groupby("seed")["value"].mean().to_numpy())
    whole = analysis.select(df, "loss_auc", "hat", dataset="digits", epoch="last")
    want = df[df.arm == "hat"].groupby("seed")["value"].mean().to_numpy()
    assert whole.to_numpy() == pytest.approx(want)


def test_a_report_wide_familywise_level_tests_each_claim_at_alpha_over_the_claims(df):
    """config familywise: report → each claim's families at 0.05 / claims (the analysis rule
    passes it to the notebooks, analysis.load_claims sets it): a primary decided at 0.05 can
    stay open at 0.05 / 9."""
    claim = {"title": "Better", "hypotheses": [_hyp("main", "better", "relu", primary=True)]}
    at_claim = analysis.evaluate_claim(df, claim)
    (r,) = at_claim["hypotheses"]
    assert r["verdict"] == "supported" and at_claim["alpha"] == 0.05
    strict = analysis.evaluate_claim(df, {**claim, "alpha": r["p_holm"] / 2})
    assert (
        strict["hypotheses"][0]["verdict"] == "inconclusive" and strict["verdict"] == "inconclusive"
    )
    doc = analysis.load_claims(ROOT / "config/claims.yaml", 0.05 / 9)
    assert {c["alpha"] for c in doc.values()} == {0.05 / 9}


def test_a_candidate_that_did_not_train_and_was_not_chosen_does_not_stop_the_comparison():
    """The 4-layer polynomial test: x³ never trained (its tuning seeds diverged: NaN validation
    accuracy, scored at chance when choosing), so the best polynomial on validation is x²; the
    comparison of x² with the worst non-polynomial arm is decided, not held open by x³."""
    rng = np.random.default_rng(1)
    flat = 14.0 + rng.normal(0, 0.5, size=(20, 5))
    good = lambda m: m + np.linspace(0, 10, 20)[:, None] + rng.normal(0, 0.5, size=(20, 5))  # noqa: E731
    df = _table({"cube": flat, "square": good(40.0), "relu": good(60.0), "tanh": good(58.0)})
    val = {"cube": np.nan, "square": 45.0, "relu": 66.0, "tanh": 64.0}
    rows = [dict(dataset="digits", model="mlp", arm=a, size=2, level=1.0, freq=np.nan, seed=s,
                 epoch=20, lr=0.01, split="val", metric="val_acc", value=v)
            for a, v in val.items() for s in (0, 1)]  # fmt: skip
    df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    h = {"id": "poly", "text": "t", "metric": "test_acc", "direction": "less", "threshold": 0.0,
         "a": {"arms": ["cube", "square"], "of": "best_val"},
         "b": {"arms": ["relu", "tanh"], "of": "worst_val"}}  # fmt: skip
    (r,) = analysis.evaluate_claim(df, {"hypotheses": [h]})["hypotheses"]
    assert r["note"].startswith("chosen on validation: a x², b tanh")
    assert r["verdict"] == "supported"  # x² far below tanh, decided
