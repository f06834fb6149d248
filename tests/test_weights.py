"""Kept models: each run's final weights in safetensors, loaded by one call, give back the
test accuracy the run recorded while it trained, for runs alone, in a batch of arms (a trainable
β among them), assembled from stored seeds, and for IMP tickets and their sparse controls."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from nnclaims.data.datasets import load_arrays
from nnclaims.run import experiments
from nnclaims.train import weights

SMALL = dict(dataset="digits", depth=2, width=16, epochs=3, batch_size=50)


def recorded(df, seed: int, level: float | None = None) -> float:
    """The run's own test accuracy of one model at its last epoch, from metrics.parquet."""
    t = df[(df["split"] == "test") & (df["metric"] == "test_acc") & (df["seed"] == seed)]
    if level is not None:
        t = t[np.isclose(t["level"], level)]
    return float(t[t["epoch"] == t["epoch"].max()]["value"].iloc[-1])


def measured(model, digits) -> np.ndarray:
    """Test accuracy (%) of each of the loaded models, computed here from their outputs."""
    a = load_arrays(digits)
    with torch.no_grad():
        out = model(a.x_test.expand(model.n_models, *a.x_test.shape))
    return (out.argmax(-1) == a.y_test).float().mean(1).numpy() * 100


def test_a_batch_of_arms_keeps_each_runs_models(tmp_path, digits):
    from nnclaims.core.hparams import RunSpec

    arms = [("relu",), ("swish_beta",), ("relu", "tanh")]
    specs = [RunSpec("classify", "+".join(a), a, seeds=(0, 1), **SMALL) for a in arms]
    outs = [tmp_path / s.arm for s in specs]
    dfs = experiments.run_batch(specs, outs, digits, tmp_path / "ck")
    for spec, out, df in zip(specs, outs, dfs):
        model = weights.load(out)
        assert [m["seed"] for m in model.models] == [0, 1]
        got = measured(model, digits)
        want = [recorded(df, s) for s in (0, 1)]
        np.testing.assert_allclose(got, want, atol=1e-9, err_msg=spec.arm)
        assert json.loads((out / "hparams.json").read_text())["weights"] == "weights.safetensors"
        with safe_open(str(out / "weights.safetensors"), "pt") as f:
            assert f.metadata()["run_id"] == spec.run_id
    # the trainable β was learned, and each run has its own
    beta = weights.load(outs[1]).acts[0].beta
    assert beta.shape == (2,) and not torch.equal(beta, torch.ones(2))


def test_seeds_from_the_store_come_with_their_weights(tmp_path, digits):
    from nnclaims.core.hparams import RunSpec

    store = tmp_path / "replicates"
    two = RunSpec("classify", "swish", ("swish",), seeds=(0, 1), **SMALL)
    three = dataclasses.replace(two, seeds=(0, 1, 2))
    experiments.run(two, tmp_path / "two", digits, replicates=store)
    df = experiments.run(three, tmp_path / "three", digits, replicates=store)
    meta = json.loads((tmp_path / "three" / "hparams.json").read_text())
    assert {s: m["trained_in"] for s, m in meta["replicates"].items()} == {
        "0": two.run_id,
        "1": two.run_id,
        "2": three.run_id,
    }
    model = weights.load(tmp_path / "three")
    assert [m["seed"] for m in model.models] == [0, 1, 2]
    np.testing.assert_allclose(measured(model, digits), [recorded(df, s) for s in (0, 1, 2)])
    first = weights.load(tmp_path / "two")
    for a, b in zip(first.weights, model.weights):
        assert torch.equal(a, b[:2])


def test_keep_weights_off_writes_none_and_says_so(tmp_path, digits):
    from nnclaims.core.hparams import RunSpec

    spec = RunSpec("classify", "relu", ("relu",), seeds=(0,), **SMALL)
    experiments.run(spec, tmp_path / "r", digits, keep_weights=False)
    assert not (tmp_path / "r" / "weights.safetensors").exists()
    assert json.loads((tmp_path / "r" / "hparams.json").read_text())["weights"] is None
    with pytest.raises(FileNotFoundError, match="keep_weights"):
        weights.load(tmp_path / "r")


def test_imp_keeps_its_last_tickets_and_controls_every_level(tmp_path, digits):
    from nnclaims.core.hparams import RunSpec

    imp = RunSpec("imp", "imp", ("relu",), seeds=(0, 1), prune_rounds=2, **SMALL)
    df = experiments.run(imp, tmp_path / "imp", digits)
    tickets = weights.load(tmp_path / "imp")
    masks = np.load(tmp_path / "imp" / "masks.npz")
    for i, w in enumerate(tickets.weights):  # pruned weights are zero in the kept tickets
        assert not w[torch.as_tensor(masks[f"round2_layer{i}"] == 0)].any()
    last = df[df["arm"] == "imp"]["level"].min()
    np.testing.assert_allclose(measured(tickets, digits), [recorded(df, s, last) for s in (0, 1)])

    ctl = RunSpec("control", "reinit", ("relu",), seeds=(0, 1), prune_rounds=2, control="reinit",
                  trunk=imp.run_id, **SMALL)  # fmt: skip
    cdf = experiments.run(ctl, tmp_path / "ctl", digits, trunk_masks=tmp_path / "imp" / "masks.npz")
    models = weights.load(tmp_path / "ctl")
    assert [(m["seed"], m["round"]) for m in models.models] == [(0, 1), (1, 1), (0, 2), (1, 2)]
    levels = df[df["arm"] == "imp"].groupby("seed")["level"].unique()
    want = [recorded(cdf, m["seed"], sorted(levels[m["seed"]])[::-1][m["round"] - 1])
            for m in models.models]  # fmt: skip
    np.testing.assert_allclose(measured(models, digits), want)


def test_a_set_search_keeps_its_chosen_sets_at_both_sizes(tmp_path, digits):
    from nnclaims.core.hparams import RunSpec

    spec = RunSpec("search", "best_set", ("relu",), seeds=(0, 1), pool=("relu", "tanh", "sin"),
                   candidates=3, keep=2, large_depth=4, tune_seeds=1, **SMALL)  # fmt: skip
    store = tmp_path / "replicates"
    experiments.run(
        dataclasses.replace(spec, seeds=(0,)), tmp_path / "one", digits, replicates=store
    )
    df = experiments.run(spec, tmp_path / "two", digits, replicates=store)  # seed 1 trains now
    stacks = weights.load(tmp_path / "two")
    assert sorted(stacks) == ["depth2", "depth4"]
    for name, model in stacks.items():
        depth = int(name.removeprefix("depth"))
        assert len(model.weights) == depth + 1
        assert sorted((m["arm"], m["seed"]) for m in model.models) == [
            ("best_set1", 0), ("best_set1", 1), ("best_set2", 0), ("best_set2", 1)
        ]  # fmt: skip
        want = []
        for m in model.models:
            rows = df[(df["arm"] == m["arm"]) & (df["size"] == depth)]
            want.append(recorded(rows, m["seed"]))
        np.testing.assert_allclose(measured(model, digits), want)
