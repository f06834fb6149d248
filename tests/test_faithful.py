"""The faithful-experiment parts: claim verdicts per dataset on constructed tables, the headline
rows, the selectors (frequency band, early-stopping epoch), the lr search on a validation split,
and the per-layer set search."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import ROOT

from nnclaims.core.hparams import RunSpec
from nnclaims.kinds import imp as imp_kind
from nnclaims.kinds.common import stack
from nnclaims.report import analysis
from nnclaims.run import experiments
from nnclaims.train.engine import Arrays

H = {
    "id": "h",
    "text": "swish at least relu − 1",
    "source": "+0.9",
    "metric": "test_acc",
    "a": {"arm": "swish"},
    "b": {"arm": "relu"},
    "direction": "greater",
    "threshold": -1.0,
}


def rows(dataset: str, arm: str, values, metric="test_acc", epoch=10, **extra):
    return [
        dict(dataset=dataset, arm=arm, size=2, level=1.0, seed=s, epoch=epoch, freq=np.nan,
             split="test", metric=metric, value=v, **extra)
        for s, v in enumerate(values)
    ]  # fmt: skip


def frame(spec: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    out = []
    for (ds, arm), vals in spec.items():
        out += rows(ds, arm, vals)
    return pd.DataFrame(out)


@pytest.mark.parametrize(
    "swish,want",
    [
        ([70, 71, 72, 71, 70], "supported"),  # a clear win
        ([60, 61, 60, 62, 61], "contradicted"),  # a clear loss
        ([67.5, 66.2, 69.9, 65.1, 68.8], "inconclusive"),  # a tie with noise around −1
    ],
)
def test_claim_verdicts_on_constructed_data(swish, want):
    relu = [68, 67, 69, 66, 68]
    ev = analysis.evaluate_claim(
        frame({("d1", "relu"): relu, ("d1", "swish"): swish}), {"hypotheses": [H]}
    )
    assert ev["verdict"] == want and ev["by_dataset"] == {"d1": want}


def test_verdict_per_dataset_and_overall():
    df = frame({
        ("a", "relu"): [60, 61, 60, 62], ("a", "swish"): [66, 67, 66, 68],
        ("b", "relu"): [90, 91, 92, 90], ("b", "swish"): [80, 81, 80, 82],
    })  # fmt: skip
    ev = analysis.evaluate_claim(df, {"hypotheses": [H]})
    assert ev["by_dataset"] == {"a": "supported", "b": "contradicted"}
    assert ev["verdict"] == "contradicted"  # a claim that fails on one dataset is contradicted
    head = analysis.headline({"hypotheses": [H]}, ev)
    assert [(r["dataset"], r["verdict"], r["source"]) for r in head] == [
        ("a", "supported", "+0.9"), ("b", "contradicted", "+0.9")]  # fmt: skip
    assert head[0]["ours"].startswith("66.8 vs 60.8")


def test_hypothesis_skips_datasets_without_its_arms_and_lists_untested_ones():
    df = frame({("a", "relu"): [1, 2, 3], ("a", "swish"): [2, 3, 4], ("b", "relu"): [1, 2, 3]})
    ev = analysis.evaluate_claim(df, {"hypotheses": [H]})
    assert [r["dataset"] for r in ev["hypotheses"]] == ["a"] and ev["not_tested"] == []
    bad = {**H, "id": "cnn", "a": {"arm": "swish_cnn"}}
    ev = analysis.evaluate_claim(df, {"hypotheses": [H, bad]})
    assert ev["not_tested"] == [f"{H['text']} (arms swish_cnn, relu not run by this config)"]
    assert [r["id"] for r in ev["hypotheses"]] == ["h"]  # the verdict rests on what was run
    with pytest.raises(ValueError, match="No hypothesis of this claim .* swish_cnn"):
        analysis.evaluate_claim(df, {"hypotheses": [bad]})


def test_a_side_over_several_arms_takes_their_per_seed_min_or_max():
    """ "every polynomial arm below every non-polynomial arm" as the best of one group
    against the worst of the other, per seed (numpy's min/max over the arms as the reference)."""
    poly = {"identity": [30, 31, 29, 30], "square": [35, 33, 34, 36]}
    other = {"relu": [60, 61, 62, 60], "hat": [45, 50, 44, 46]}
    df = frame({("d", a): v for a, v in {**poly, **other}.items()})
    a, b = {"arms": list(poly), "of": "max"}, {"arms": list(other), "of": "min"}
    h = {**H, "id": "p", "a": a, "b": b, "direction": "less", "threshold": 0.0}
    ev = analysis.evaluate_claim(df, {"hypotheses": [h]})
    d = np.max(list(poly.values()), axis=0) - np.min(list(other.values()), axis=0)
    r = ev["hypotheses"][0]
    assert r["diff"] == pytest.approx(d.mean()) and r["verdict"] == "supported"
    other["hat"][1] = 15  # one seed of one non-polynomial arm below a polynomial one
    ev = analysis.evaluate_claim(frame({("d", a): v for a, v in {**poly, **other}.items()}),
                                 {"hypotheses": [h]})  # fmt: skip
    assert ev["hypotheses"][0]["diff"] > r["diff"]


def test_spectral_hypothesis_counts_for_every_dataset():
    df = frame({("a", "relu"): [60, 61, 60], ("a", "swish"): [66, 67, 66]})
    sp = []
    for arm, hi in (("relu", 0.1), ("hat", 0.6)):
        for k, v in ((5, 0.9), (10, 0.8), (40, hi), (50, hi)):
            sp += rows("sines", arm, [v + 0.01 * s for s in range(3)], metric="dft_ratio", epoch=50)
            for r in sp[-3:]:
                r["freq"] = k
    df = pd.concat([df, pd.DataFrame(sp)], ignore_index=True)
    hs = {
        "id": "s",
        "text": "hat fits high k sooner",
        "datasets": ["sines"],
        "metric": "dft_ratio",
        "a": {"arm": "hat", "freq": "high"},
        "b": {"arm": "relu", "freq": "high"},
        "direction": "greater",
        "threshold": 0.0,
    }
    vals = analysis.select(df, "dft_ratio", "hat", dataset="sines", freq="high")
    assert np.allclose(vals.to_numpy(), [0.6, 0.61, 0.62])  # mean over k = 40, 50
    ev = analysis.evaluate_claim(df, {"hypotheses": [H, hs]})
    assert ev["by_dataset"] == {"a": "supported"}  # both hold; the spectral one counts for "a"
    assert {r["dataset"] for r in ev["hypotheses"]} == {"a", "sines"}


def test_best_epoch_is_the_epoch_of_lowest_validation_loss_never_test():
    """the early-stopping epoch reads the validation loss, as Frankle & Carbin's did;
    a test loss with its minimum elsewhere does not move it."""
    r = []
    for e, losses in enumerate([[3, 3], [1, 2], [2, 1]], start=1):
        r += rows("a", "imp", losses, metric="val_loss", epoch=e)
        r += rows("a", "imp", [9 - e, 9 - e], metric="test_loss", epoch=e)  # lowest at epoch 3
    v = analysis.select(pd.DataFrame(r), "best_epoch", "imp")
    assert v.tolist() == [2.0, 3.0]
    only_test = pd.DataFrame([x for x in r if x["metric"] == "test_loss"])
    with pytest.raises(LookupError, match="val_loss"):
        analysis.select(only_test, "best_epoch", "imp")


def test_every_hypothesis_in_claims_file_has_a_source_and_known_selectors():
    raw = (ROOT / "config/claims.yaml").read_text()
    claims = yaml.safe_load(raw)
    # an unquoted " #" in a value starts a YAML comment and silently cuts the text
    for line in raw.splitlines():
        body = line.split(":", 1)[-1].strip()
        if not line.lstrip().startswith("#") and " #" in body:
            assert body[0] in "\"'{", f"quote this value: {line.strip()}"
    keys = {
        "arm",
        "arms",
        "of",
        "size",
        "level",
        "levels",
        "kept",
        "epoch",
        "freq",
        "loss",
        "minus",
    }
    keys |= {"variant", "with", "without", "trained"}
    for cid, c in claims.items():
        assert sum(bool(h.get("headline")) for h in c["hypotheses"]) <= 1, cid
        for h in c["hypotheses"]:
            assert h.get("source"), h["id"]
            assert set(h["a"]) <= keys and set(h.get("b", {})) <= keys, h["id"]


def _toy(n=400, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return Arrays(x, y, x[:100], y[:100])


def test_validation_split_is_fixed_disjoint_and_leaves_test_alone():
    a = _toy()
    s1, s2 = experiments.validation_split(a, 0.25), experiments.validation_split(a, 0.25)
    assert torch.equal(s1.x_test, s2.x_test) and s1.x_test.shape[0] == 100
    rows_tr = {tuple(r.tolist()) for r in s1.x_train}
    rows_va = {tuple(r.tolist()) for r in s1.x_test}
    assert not rows_tr & rows_va and len(rows_tr) + len(rows_va) == 400


def test_lr_search_picks_the_best_candidate_on_validation_and_records_it():
    spec = RunSpec("classify", "relu", ("relu",), depth=1, width=16, epochs=3, batch_size=50,
                   lr_grid=(1e-6, 3e-2), tune_seeds=2, seeds=(0, 1, 2))  # fmt: skip
    df = experiments.run_classify(spec, _toy())
    val = df[df.metric == "val_acc"]
    assert sorted(val.lr.unique()) == [1e-6, 3e-2] and len(val) == 4  # 2 lrs × 2 seeds
    assert (df[df.metric == "test_acc"].lr == 3e-2).all()  # an lr of 1e-6 cannot learn in 3 epochs
    assert val.groupby("lr").value.mean()[3e-2] > val.groupby("lr").value.mean()[1e-6]


def _val(df):
    v = df[df.metric == "val_acc"].sort_values(["lr", "seed"])
    return v[["lr", "seed", "value"]].reset_index(drop=True)


@pytest.mark.parametrize("start", [1e-3, 1.0])  # walks up from the bottom, down from the top
def test_lr_walk_scores_what_the_grid_scores_and_picks_the_same_rate(start):
    """The walk against the search of every rate (the independent reference): its candidates'
    validation scores are the grid's, bit for bit, for each rate it tries; it picks the grid's
    best; and it stops one rate past the best (a single peak here, as on the default run)."""
    grid = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)  # validation peaks at 0.1 here
    kw = dict(depth=1, width=16, epochs=3, batch_size=50, lr_grid=grid, tune_seeds=2,
              seeds=(0, 1), lr=start)  # fmt: skip
    spec = RunSpec("classify", "relu", ("relu",), **kw)
    full, walk = (
        experiments.run_classify(dataclasses.replace(spec, lr_search=m), _toy())
        for m in ("grid", "walk")
    )
    vf, vw = _val(full), _val(walk)
    assert set(vw.lr) < set(vf.lr)  # fewer rates than the grid
    pd.testing.assert_frame_equal(vf[vf.lr.isin(set(vw.lr))].reset_index(drop=True), vw)
    pick = vf.groupby("lr").value.mean().idxmax()
    assert (walk[walk.metric == "test_acc"].lr == pick).all()
    tried = sorted(set(vw.lr))
    assert tried[0] < pick < tried[-1] or pick in (grid[0], grid[-1])


def test_lr_walk_steps_outward_only_while_the_best_is_at_an_end():
    from nnclaims.kinds import classify

    spec = RunSpec("classify", "a", ("relu",), lr=0.01, lr_search="walk",
                   lr_grid=(1e-3, 3e-3, 1e-2, 3e-2, 0.1))  # fmt: skip
    assert classify.first_rates(spec) == [3e-3, 1e-2, 3e-2]
    s = lambda *v: np.array(v)  # noqa: E731
    tried = {3e-3: s(50, 52), 1e-2: s(60, 60), 3e-2: s(61, 62)}
    assert classify.next_rate(spec, tried, 10.0) == 0.1
    tried[0.1] = s(np.nan, 70)  # a diverged seed counts at chance: mean 40, so 0.03 wins
    assert classify.next_rate(spec, tried, 10.0) is None
    tied = {3e-3: s(60, 60), 1e-2: s(60, 60), 3e-2: s(50, 50)}
    assert classify.next_rate(spec, tied, 10.0) == 1e-3  # a tie goes to the smaller rate
    tied[1e-3] = s(60, 60)
    assert classify.next_rate(spec, tied, 10.0) is None  # the grid's end
    grid = dataclasses.replace(spec, lr_search="grid")
    assert classify.first_rates(grid) == list(grid.lr_grid)
    assert classify.next_rate(grid, tried, 10.0) is None


def test_set_search_draws_distinct_sets_and_transfers_the_best():
    spec = RunSpec("search", "best_set", ("relu",), depth=2, width=8, epochs=2, batch_size=50,
                   pool=("relu", "tanh", "sin"), candidates=4, keep=2, large_depth=4,
                   seeds=(0, 1), tune_seeds=1)  # fmt: skip
    cands = experiments.candidate_sets(spec)
    assert len(set(cands)) == 4 and cands == experiments.candidate_sets(spec)
    df = experiments.run_search(spec, _toy())
    assert set(df[df.metric == "val_acc"].arm) == {f"cand:{experiments.set_name(c)}" for c in cands}
    final = df[df.metric == "test_acc"]
    assert set(final.arm) == {"best_set1", "best_set2"} and set(final["size"]) == {2, 4}
    # a set has two or more distinct functions (relu+relu is a plain network)
    assert all(len(set(c)) >= 2 for c in cands)
    # the search's models use seeds disjoint from those evaluating the chosen sets
    search_seeds = set(df[df.metric == "val_acc"].seed)
    assert search_seeds and not search_seeds & set(final.seed)
    with pytest.raises(ValueError, match="only 2 sets"):  # relu+tanh, tanh+relu
        experiments.candidate_sets(
            RunSpec("search", "s", ("relu",), pool=("relu", "tanh"), candidates=3)
        )


@pytest.mark.parametrize("lr_grid", [(0.01, 0.03), ()])
def test_arms_trained_as_one_batch_equal_each_trained_alone_bitwise(lr_grid):
    kw = dict(depth=1, width=16, epochs=2, batch_size=50, lr_grid=lr_grid, tune_seeds=2,
              seeds=(0, 1, 2))  # fmt: skip
    specs = [
        RunSpec("classify", "relu", ("relu",), **kw),
        RunSpec("classify", "swish_beta", ("swish_beta",), **kw),
        RunSpec("classify", "mix", ("relu", "tanh"), **kw),
    ]
    together = experiments.train_arms(specs, _toy())
    for spec, df in zip(specs, together):
        alone = experiments.run_classify(spec, _toy())
        pd.testing.assert_frame_equal(df.reset_index(drop=True), alone.reset_index(drop=True))
    with pytest.raises(ValueError, match="differ in more than the arm"):
        experiments.train_arms(
            [specs[0], RunSpec("classify", "x", ("relu",), **{**kw, "depth": 2})], _toy()
        )


def test_epochs_to_loss_counts_never_as_censored():
    r = []
    for e, losses in enumerate([[2.0, 2.0, 2.0], [0.4, 1.0, 2.0], [0.3, 0.5, 2.0]], start=1):
        r += rows("a", "hat", losses, metric="train_loss", epoch=e)
    v = analysis.select(pd.DataFrame(r), "epochs_to_loss", "hat", loss=0.5)
    assert v.tolist() == [2.0, 3.0, 4.0]  # seed 2 never gets there: 3 epochs + 1
    with pytest.raises(ValueError, match="needs a `loss`"):
        analysis.select(pd.DataFrame(r), "epochs_to_loss", "hat")


def test_imp_rewinding_resets_survivors_to_the_rewind_epoch(tmp_path):
    spec = RunSpec("imp", "imp", ("relu",), depth=1, width=16, epochs=3, batch_size=50,
                   prune_rounds=1, rewind_epoch=1, seeds=(0, 1))  # fmt: skip
    seen = {}
    orig = imp_kind.ticket

    def spy(spec_, d_in, d_out, seeds, masks, rewind=None):
        m = orig(spec_, d_in, d_out, seeds, masks, rewind)
        seen.setdefault("rewound", []).append(rewind is not None)
        seen.setdefault("first", m.weights[0].detach().clone())
        return m

    imp_kind.ticket = spy  # run_imp looks it up in its module, nnclaims.kinds.imp
    try:
        df = experiments.run_imp(spec, _toy(), tmp_path / "masks.npz", tmp_path / "ck")
    finally:
        imp_kind.ticket = orig
    assert seen["rewound"] == [False, True]
    assert set(df.arm) == {"dense", "imp"}
    theta0 = stack(spec, 8, 4, [0, 1]).weights[0]
    assert torch.equal(seen["first"], theta0)  # round 0 starts at θ0
    with pytest.raises(ValueError, match="past the 3 epochs"):
        bad = RunSpec("imp", "imp", ("relu",), depth=1, width=16, epochs=3, batch_size=50,
                      prune_rounds=1, rewind_epoch=5, seeds=(0,))  # fmt: skip
        experiments.run_imp(bad, _toy(), tmp_path / "m2.npz")
