"""The width sweep: its stack against plain torch, its noisy labels, its tests against
hand-made curves and scipy, and the claims check's errors."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps
from test_reference import F64, reference_net, train_reference

from nnclaims.core import seeding
from nnclaims.core.hparams import RunSpec
from nnclaims.data import datasets as data
from nnclaims.kinds import Job, get
from nnclaims.nets.models import StackedWidths, init_weights
from nnclaims.plan import claims
from nnclaims.plan.runs import make_plan
from nnclaims.stats import verdicts, widthsweep
from nnclaims.train import engine

WIDTHS, SEEDS = [3, 8, 13], [3, 4]
D_IN, DEPTH, CLASSES = 40, 2, 4


def _reference(seed: int, width: int) -> torch.nn.Module:
    """A plain nn.Sequential of one width from the documented init law (the seed's "init"
    stream, nn.Linear's bounds), in torch's (out, in) layout; no masks (all ones)."""
    sizes = list(zip([D_IN] + [width] * DEPTH, [width] * DEPTH + [CLASSES]))
    draws = init_weights(seeding.derive_seed(seed, "init"), sizes, dtype=F64)
    ws = [w.T.contiguous() for w, _ in draws]
    bs = [b.reshape(-1) for _, b in draws]
    return reference_net("mlp", "relu", ws, bs, [torch.ones_like(w) for w in ws])


def test_width_stack_trains_as_plain_torch_models():
    """Every (width, seed) of one StackedWidths trains as a plain nn.Module with torch.optim.Adam
    from the same θ0 and the seed's batch order: one seed's widths share their batches."""
    toy = data.linear_toy(n=310, d=D_IN, classes=CLASSES, dtype=F64, seed=1)
    model = StackedWidths(SEEDS, D_IN, DEPTH, WIDTHS, CLASSES, ("relu",), dtype=F64)
    hist = engine.train_classifier(model, toy, 3, 50, 0.01)
    fit_loss, fit_acc = engine.evaluate(model, toy.x_train, toy.y_train)
    for i, w in enumerate(WIDTHS):
        for j, seed in enumerate(SEEDS):
            k = i * len(SEEDS) + j
            net = _reference(seed, w)
            ref = train_reference(net, toy, seed, 0.01)
            for key in ("train_loss", "test_loss", "test_acc"):
                np.testing.assert_allclose(hist[key][:, k], ref[key], rtol=0, atol=1e-10)
            with torch.no_grad():
                logits = net(toy.x_train)
            loss = torch.nn.functional.cross_entropy(logits, toy.y_train).item()
            acc = (logits.argmax(1) == toy.y_train).double().mean().item() * 100
            assert abs(fit_loss[k] - loss) < 1e-10 and abs(fit_acc[k] - acc) < 1e-10
    # the check has teeth: a neighbouring width's reference does not agree
    other = train_reference(_reference(SEEDS[0], WIDTHS[1]), toy, SEEDS[0], 0.01)
    assert np.abs(hist["train_loss"][:, 0] - other["train_loss"]).max() > 1e-3


def test_widths_job_rows():
    """The kind's rows: arms w<width>[_tag], per-epoch rows and the fit rows at the last epoch;
    the fit rows are the trained models on the run's own (noisy) training labels."""
    toy = data.linear_toy(n=310, d=D_IN, classes=CLASSES, seed=1)
    noisy = data.noisy(toy, 0.3)
    spec = RunSpec("widths", "sweep_noisy", ("relu",), widths=tuple(WIDTHS), epochs=2,
                   batch_size=50, lr=0.01, seeds=tuple(SEEDS), label_noise=0.3)  # fmt: skip
    rows, masks = get("widths").train(spec, Job(device=torch.device("cpu"), arrays=noisy))
    assert masks is None
    assert get("widths").row_arms(spec) == ["w3_noisy", "w8_noisy", "w13_noisy"]
    assert list(dict.fromkeys(rows["arm"])) == ["w3_noisy", "w8_noisy", "w13_noisy"]
    fit = rows[rows["metric"] == "fit_acc"]
    assert len(fit) == len(WIDTHS) * len(SEEDS) and set(fit["epoch"]) == {2}
    model = StackedWidths(SEEDS, D_IN, DEPTH, WIDTHS, CLASSES, ("relu",))
    engine.train_classifier(model, noisy, 2, 50, 0.01)
    _, acc = engine.evaluate(model, noisy.x_train, noisy.y_train)
    np.testing.assert_array_equal(fit["value"].to_numpy(), acc)
    _, clean_acc = engine.evaluate(model, toy.x_train, toy.y_train)
    assert not np.array_equal(acc, clean_acc)  # scored on the labels it trained on


def test_noisy_labels_are_one_fixed_draw():
    toy = data.linear_toy(n=20000, d=4, classes=10, seed=0)
    a, b = data.noisy(toy, 0.15), data.noisy(toy, 0.15)
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.y_test, toy.y_test)
    changed = (a.y_train != toy.y_train).double().mean().item()
    # 15 % redrawn, of which 9 in 10 land on another class: 13.5 %, binomial SD 0.24 points
    assert abs(changed - 0.135) < 0.01
    assert data.noisy(toy, 0.0) is toy
    with pytest.raises(ValueError, match="label_noise"):
        RunSpec("widths", "sweep", ("relu",), label_noise=1.0)


# ---------------------------------------------------------------------------------------------
# The tests, on hand-made sweeps


def _sweep_df(loss, acc, test, tag="", dataset="mnist1d") -> pd.DataFrame:
    """A claim table of one sweep: loss / acc / test are (seeds, widths) arrays; test accuracy
    is written for 10 epochs with the same value, so the end metric equals it."""
    widths = [2, 4, 8, 16, 32, 64, 128]
    rows = []
    for j, w in enumerate(widths):
        arm = f"w{w}" + (f"_{tag}" if tag else "")
        for s in range(loss.shape[0]):
            base = {"dataset": dataset, "model": "mlp", "arm": arm, "size": 2, "level": 1.0,
                    "freq": np.nan, "seed": s, "lr": 0.003}  # fmt: skip
            rows += [{**base, "epoch": e, "split": "test", "metric": "test_acc",
                      "value": test[s, j]} for e in range(1, 11)]  # fmt: skip
            rows.append({**base, "epoch": 10, "split": "train", "metric": "fit_loss",
                         "value": loss[s, j]})  # fmt: skip
            rows.append({**base, "epoch": 10, "split": "train", "metric": "fit_acc",
                         "value": acc[s, j]})  # fmt: skip
            rows.append({**base, "epoch": 10, "split": "train", "metric": "diverged_epoch",
                         "value": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def _curves(seeds=6, step=True, rng=0):
    g = np.random.default_rng(rng)
    x = np.log2([2, 4, 8, 16, 32, 64, 128])
    # log10 loss: −0.05 per doubling up to 16 units, then −1 per doubling (a knee at 16)
    y = np.where(x <= 4, -0.05 * (x - 4), -1.0 * (x - 4)) if step else -0.3 * (x - 4)
    loss = 10 ** (y[None, :] + g.normal(0, 0.02, (seeds, len(x))))
    acc = np.clip(100 - 40 * loss, 0, 100)
    test = 60 + 2 * x[None, :] + g.normal(0, 0.5, (seeds, len(x)))
    return loss, acc, test


HYPS = [
    {"id": "knee", "text": "k", "test": "knee", "metric": "fit_loss", "a": {"variant": ""},
     "direction": "greater", "threshold": 2.0},
    {"id": "spread", "text": "s", "test": "spread", "metric": "fit_loss", "a": {"variant": ""},
     "direction": "less", "threshold": 0.0},
    {"id": "past", "text": "p", "test": "past_threshold", "metric": "test_acc",
     "a": {"variant": ""}, "direction": "greater", "threshold": -1.0},
]  # fmt: skip


def test_knee_fit_recovers_a_known_bend():
    x = np.log2([2, 4, 8, 16, 32, 64, 128])
    y = np.where(x <= 4, 1 - 0.05 * (x - 4), 1 - 1.0 * (x - 4))
    knee, before, after = widthsweep.knee_fit(2**x, y)
    assert knee == 16 and before == pytest.approx(-0.05) and after == pytest.approx(-1.0)


def test_sweep_tests_on_a_threshold_and_on_a_power_law():
    loss, acc, test = _curves()
    df = _sweep_df(loss, acc, test)
    res = {r["id"]: r for r in verdicts.evaluate_claim(df, {"hypotheses": HYPS})["hypotheses"]}
    assert res["knee"]["verdict"] == "supported" and res["knee"]["knee"][0] == 16
    assert res["knee"]["diff"] == pytest.approx(20, rel=0.3)
    # spread: scipy's Spearman ρ on numpy's per-width SD of log10 loss (relative spread); the
    # curves have the same relative noise at every width, so the absolute SD shrinks with the
    # loss (ρ of it is strongly negative), but the test reads no trend into them
    w = np.log2([2, 4, 8, 16, 32, 64, 128])
    rho = sps.spearmanr(w, np.log10(loss).std(0, ddof=1)).statistic
    assert res["spread"]["diff"] == pytest.approx(rho)
    assert sps.spearmanr(w, loss.std(0, ddof=1)).statistic < -0.8
    assert res["spread"]["verdict"] != "supported"
    # past the threshold: the narrowest width whose mean training accuracy reaches 99 %
    w0 = next(w for w, a in zip([2, 4, 8, 16, 32, 64, 128], acc.mean(0)) if a >= 99)
    j = [2, 4, 8, 16, 32, 64, 128].index(w0)
    d = test[:, -1] - test[:, j]
    assert res["past"]["threshold_width"] == w0
    assert res["past"]["diff"] == pytest.approx(d.mean())
    t = sps.ttest_1samp(d, -1.0, alternative="two-sided")
    assert res["past"]["p"] == pytest.approx(t.pvalue)
    # a power law (one straight line in log-log) has no knee: not supported (the test of a
    # knee against curves without one cannot contradict: its other outcome is inconclusive)
    loss2, acc2, test2 = _curves(step=False)
    r2 = verdicts.evaluate_claim(_sweep_df(loss2, acc2, test2), {"hypotheses": HYPS[:1]})
    assert r2["hypotheses"][0]["verdict"] == "inconclusive" and r2["hypotheses"][0]["p"] > 0.05
    assert r2["hypotheses"][0]["diff"] == pytest.approx(1.0, abs=0.3)


def test_past_threshold_without_interpolation_decides_nothing():
    loss, acc, test = _curves()
    df = _sweep_df(loss, np.minimum(acc, 90.0), test)
    r = verdicts.evaluate_claim(df, {"hypotheses": HYPS[2:]})["hypotheses"][0]
    assert r["verdict"] == "inconclusive" and "no width reached 99" in r["note"]


def test_a_diverged_width_counts_as_a_failure():
    loss, acc, test = _curves()
    loss[0, -1] = np.nan
    t = widthsweep.table(_sweep_df(loss, acc, test), "fit_loss", "", "mnist1d")
    assert t.loc[0, 128] == pytest.approx(np.log(10))


# ---------------------------------------------------------------------------------------------
# Config and claims check


def _config():
    import yaml

    cfg = yaml.safe_load(open("config/test.yaml"))
    cfg["claims"] = {"width_thresholds": cfg["claims"]["width_thresholds"]}
    return cfg


def test_plan_makes_one_sweep_per_variant_and_dataset():
    plan = make_plan(_config())
    runs = [plan.runs[r] for r in plan.claim_runs["width_thresholds"]]
    assert sorted((s.arm, s.dataset, s.label_noise) for s in runs) == [
        ("sweep", "digits", 0.0), ("sweep", "mnist1d", 0.0),
        ("sweep_noisy", "digits", 0.15), ("sweep_noisy", "mnist1d", 0.15),
    ]  # fmt: skip
    assert all(s.kind == "widths" and s.widths == (2, 4, 8, 16, 32) for s in runs)
    cfg = _config()
    cfg["claims"]["width_thresholds"]["width_sweep"]["widths"] = [8, 2, 4, 16]
    with pytest.raises(ValueError, match="narrowest first"):
        make_plan(cfg)


def test_claims_check_names_a_bad_sweep_test():
    cfg = _config()
    plan = make_plan(cfg)
    doc = claims.load()
    doc = {"width_thresholds": copy.deepcopy(doc["width_thresholds"])}
    claims.check(doc, cfg, plan)  # as written: fine
    bad = copy.deepcopy(doc)
    bad["width_thresholds"]["hypotheses"][0]["metric"] = "test_acc"
    with pytest.raises(claims.ClaimsError, match="test knee fits the log of a loss"):
        claims.check(bad, cfg, plan)
    bad = copy.deepcopy(doc)
    bad["width_thresholds"]["hypotheses"][3]["a"] = {"variant": "shuffled"}
    with pytest.raises(claims.ClaimsError, match="variant 'shuffled'"):
        claims.check(bad, cfg, plan)


def test_vectorised_knee_and_spread_statistics_match_polyfit_and_scipy():
    """The bootstrap computes every resample at once; each sample's numbers equal a plain loop
    of np.polyfit slopes over the windows and scipy's spearmanr (ties included)."""
    rng = np.random.default_rng(3)
    widths = np.array([2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64])
    t = rng.lognormal(size=(50, 5, len(widths)))
    t[7, :, :4] = 1.0  # a flat start: slope 0 before, a step at the knee (ratio inf)
    t[9] = np.round(t[9], 0) + 1  # tied SDs across widths
    x, w = np.log2(widths), widthsweep.WINDOW
    ratios = widthsweep._ratios(widths, t)
    rhos = widthsweep._spearmans(widths, t)
    for s in range(len(t)):
        y = np.log10(t[s]).mean(axis=0)
        best = None
        for j in range(w - 1, len(x) - w + 1):
            before = np.polyfit(x[j - w + 1 : j + 1], y[j - w + 1 : j + 1], 1)[0]
            after = np.polyfit(x[j : j + w], y[j : j + w], 1)[0]
            r = (np.inf if after < 0 else -np.inf) if before >= 0 else after / before
            if best is None or r > best[0]:
                best = (r, widths[j])
        assert ratios[s] == pytest.approx(best[0], rel=1e-9), s
        assert widthsweep.knee_fit(widths, y)[0] == best[1]
        sd = t[s].std(axis=0, ddof=1)
        assert rhos[s] == pytest.approx(sps.spearmanr(x, sd).statistic, rel=1e-9), s
