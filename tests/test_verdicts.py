"""Verdicts a referee accepts: divergence scored honestly, a stable end metric, Holm's
familywise control inside claims, the opening table's two verdicts, power for open tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nnclaims.data.datasets import linear_toy
from nnclaims.nets.models import StackedMLP
from nnclaims.report import analysis
from nnclaims.run import experiments
from nnclaims.train import engine


def _table(values: dict[str, np.ndarray], dataset="digits", diverged=None) -> pd.DataFrame:
    """Tidy rows: values[arm] is (epochs, seeds) test accuracy."""
    out = []
    for arm, v in values.items():
        epochs, seeds = v.shape
        for e in range(epochs):
            for s in range(seeds):
                out.append(dict(dataset=dataset, model="mlp", arm=arm, size=2, level=1.0,
                                freq=np.nan, seed=s, epoch=e + 1, lr=0.01, split="test",
                                metric="test_acc", value=v[e, s]))  # fmt: skip
        for s in range(seeds):
            dv = 0 if diverged is None else diverged.get(arm, [0] * seeds)[s]
            out.append(dict(dataset=dataset, model="mlp", arm=arm, size=2, level=1.0,
                            freq=np.nan, seed=s, epoch=epochs, lr=0.01, split="train",
                            metric="diverged_epoch", value=float(dv)))  # fmt: skip
    return pd.DataFrame(out)


def test_a_model_the_engine_drives_to_divergence_has_no_accuracy_and_scores_at_chance():
    """Before: NaN weights made max(1) predict class 0 everywhere, so test_acc was the class-0
    share (6.9 % on digits), never NaN, and the chance fill never fired."""
    d = linear_toy(n=300, d=12, classes=4, seed=2)
    m = StackedMLP([0, 1], 12, 2, 16, 4, ["relu"])
    h = engine.train_classifier(m, d, 3, 50, [1e-2, 1e38])  # model 1: an absurd learning rate
    e = int(h["diverged_epoch"][1])
    assert h["diverged_epoch"][0] == 0 and e >= 1
    assert np.isnan(h["test_acc"][e - 1 :, 1]).all() and np.isnan(h["test_loss"][e - 1 :, 1]).all()
    assert np.isfinite(h["test_acc"][:, 0]).all()
    class0 = float((d.y_test == 0).double().mean() * 100)
    df = _table({"a": h["test_acc"][:, [1]]}, diverged={"a": [e]})
    got = analysis.select(df, "test_acc", "a", dataset="digits")
    assert got.iloc[0] == analysis.CHANCE["digits"] != class0


def test_searches_count_a_diverged_seed_as_a_failure():
    """Before: nanmean let an lr win on its one surviving seed (90 against a steady 70)."""
    one_survivor = experiments.search_score(np.array([np.nan, np.nan, 90.0]), chance=10.0)
    steady = experiments.search_score(np.array([70.0, 70.0, 70.0]), chance=10.0)
    assert steady > one_survivor == (10 + 10 + 90) / 3


def test_end_metric_is_the_mean_of_the_last_epochs_and_the_last_epoch_is_kept():
    rng = np.random.default_rng(0)
    acc = 60 + rng.normal(0, 3, size=(30, 4))  # a noisy overfit regime
    df = _table({"relu": acc, "swish": acc + 2})
    end = analysis.select(df, "test_acc", "relu", dataset="digits")
    np.testing.assert_allclose(end.to_numpy(), acc[-analysis.END_WINDOW :].mean(0))
    last = analysis.select(df, "test_acc", "relu", dataset="digits", epoch="last")
    np.testing.assert_allclose(last.to_numpy(), acc[-1])
    s = analysis.summary(df, "test_acc", ["arm"]).set_index("arm")
    assert abs(s.loc["relu", "mean"] - end.mean()) < 1e-9
    h = {"id": "h", "text": "t", "metric": "test_acc", "a": {"arm": "swish"},
         "b": {"arm": "relu"}, "direction": "greater", "threshold": 0.0}  # fmt: skip
    r = analysis.evaluate_hypothesis(df, h, "digits")
    assert abs(r["a_last"] - acc[-1].mean() - 2) < 1e-9
    assert "last epoch:" in analysis.fmt_hypothesis(r)["ours"]


def _hyp(i, a, b, threshold=0.0):
    return {"id": f"h{i}", "text": f"h{i}", "metric": "test_acc", "a": {"arm": a},
            "b": {"arm": b}, "direction": "greater", "threshold": threshold}  # fmt: skip


def test_holm_inside_a_claim_and_the_opening_table_names_both_verdicts():
    """A marginal loss that one 95 % interval calls contradicted is inconclusive once the
    claim's eight tests are corrected together; a clear loss stays contradicted."""
    seeds = 5
    base = np.full((1, seeds), 70.0)
    marginal = base - np.array([[0.3, 1.7, 0.6, 1.5, 0.9]])  # CI of d below 0, p ≈ 0.02
    values = {"relu": base, "m": marginal, "clear": base - np.array([[9, 10, 11, 10, 9.5]])}
    for i in range(6):
        values[f"tie{i}"] = base + np.array([[0.5, -0.5, 0.2, -0.2, 0.0]]) * (i + 1)
    df = _table(values, dataset="mnist1d")  # independent test sets: the plain t
    hyps = [_hyp(0, "clear", "relu"), _hyp(1, "m", "relu")]
    hyps += [_hyp(i + 2, f"tie{i}", "relu") for i in range(6)]
    claim = {"hypotheses": hyps}
    alone = analysis.evaluate_hypothesis(df, hyps[1], "mnist1d")
    assert alone["hi"] < 0 and alone["verdict"] == "contradicted"  # its own interval
    ev = analysis.evaluate_claim(df, claim)
    res = {r["id"]: r for r in ev["hypotheses"]}
    assert ev["family"] == 8
    assert res["h1"]["verdict"] == "inconclusive" and res["h1"]["p_holm"] > 0.05
    assert res["h0"]["verdict"] == "contradicted"
    assert ev["verdict"] == "contradicted" and ev["decided_by"]["mnist1d"] == "h0"
    # power for the open test: seeds that would decide it, and what n = 5 detects now
    f = analysis.fmt_hypothesis(res["h1"])
    assert res["h1"]["seeds_needed"] > seeds and "seeds" in f["to_decide"]
    # the first hypothesis is primary by default: a family of its own; the rest are secondary
    assert ev["families"] == {"primary": 1, "secondary": 7}
    # declared primary, an open tie decides the claim: the clear loss of the secondary h0
    # qualifies it and never overturns it; the opening table shows the primary's row
    claim["hypotheses"][2]["primary"] = True
    ev = analysis.evaluate_claim(df, claim)
    res = {r["id"]: r for r in ev["hypotheses"]}
    assert res["h0"]["verdict"] == "contradicted" and res["h0"]["role"] == "secondary"
    assert ev["verdict"] == "inconclusive" and ev["decided_by"]["mnist1d"] == "h2"
    (row,) = analysis.headline(claim, ev)
    assert row["verdict"] == "inconclusive" and row["hypothesis"] == hyps[2]["text"]


def test_a_comparison_without_a_trained_model_supports_nothing():
    """Both arms diverged everywhere: d = 0 exactly, which used to read as 'matches'."""
    chance = np.full((3, 4), np.nan)
    df = _table({"swish": chance, "relu": chance}, diverged={"swish": [1] * 4, "relu": [1] * 4})
    r = analysis.evaluate_claim(df, {"hypotheses": [_hyp(0, "swish", "relu", -1.0)]})
    (h,) = r["hypotheses"]
    assert h["verdict"] == "inconclusive" and "no trained model" in h["note"]


def test_engine_float64_run_is_unchanged_by_nan_scoring():
    """Models that never diverge keep every number (the NaN mask touches only dead models)."""
    d = linear_toy(dtype=torch.float64)
    h = engine.train_classifier(
        StackedMLP([0], 12, 1, 8, 4, ["relu"], dtype=torch.float64), d, 2, 50, 1e-2
    )
    assert np.isfinite(h["test_acc"]).all()


def test_best_epoch_of_models_that_diverged_at_once_is_missing_not_a_crash():
    """every sparse model diverged in epoch 1 made idxmin raise on all-NaN groups and
    killed the report; such a model has no best epoch, and the comparison says so."""
    rows = []
    for arm, loss in (("imp", np.nan), ("dense", 1.0)):
        for s in range(3):
            for e in range(1, 4):
                v = loss if np.isnan(loss) else loss + abs(e - 2) + s / 10
                rows.append(dict(dataset="digits", model="mlp", arm=arm, size=2, level=1.0,
                                 freq=np.nan, seed=s, epoch=e, lr=0.01, split="val",
                                 metric="val_loss", value=v))  # fmt: skip
    df = pd.DataFrame(rows)
    assert analysis.select(df, "best_epoch", "imp", dataset="digits").isna().all()
    assert list(analysis.select(df, "best_epoch", "dense", dataset="digits")) == [2.0] * 3
    h = {"id": "h", "text": "t", "metric": "best_epoch", "a": {"arm": "imp"},
         "b": {"arm": "dense"}, "direction": "greater", "threshold": 0.0}  # fmt: skip
    r = analysis.evaluate_hypothesis(df, h, "digits")
    assert r["n"] == 0 and r["verdict"] == "inconclusive"
