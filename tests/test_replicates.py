"""Seeds are replicates: raising `seeds` trains only the new seeds and reuses the
finished ones bit for bit; lowering reuses a subset. Checked for every run kind against runs
trained from scratch in a fresh store (bitwise: a model's numbers do not depend on its stack)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from nnclaims.core.hparams import RunSpec
from nnclaims.run import experiments

KEYS = ["arm", "size", "level", "freq", "seed", "epoch", "lr", "split", "metric"]
SMALL = dict(dataset="digits", depth=1, width=8, epochs=2, batch_size=50)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values(KEYS, na_position="first").reset_index(drop=True)
    b = b.sort_values(KEYS, na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    assert np.array_equal(a["value"].to_numpy(), b["value"].to_numpy(), equal_nan=True)


def _trained_in(out) -> dict[str, str]:
    meta = json.loads((out / "hparams.json").read_text())
    return {s: m["trained_in"] for s, m in meta["replicates"].items()}


def _seeds(spec, n):
    return dataclasses.replace(spec, seeds=tuple(range(n)))


def test_raising_and_lowering_seeds_of_a_batch_with_an_lr_search(tmp_path, digits):
    store = tmp_path / "replicates"
    base = [RunSpec("classify", a, (a,), lr_grid=(0.01, 0.1), tune_seeds=2, **SMALL)
            for a in ("relu", "swish")]  # fmt: skip

    def batch(specs, tag, where=store):
        outs = [tmp_path / tag / s.arm for s in specs]
        dfs = experiments.run_batch(specs, outs, digits, tmp_path / tag / "ck", replicates=where)
        return dfs, outs

    three, _ = batch([_seeds(s, 3) for s in base], "three")
    four, outs = batch([_seeds(s, 4) for s in base], "four")
    first = _seeds(base[0], 3).run_id
    assert _trained_in(outs[0]) == {
        "0": first,
        "1": first,
        "2": first,
        "3": _seeds(base[0], 4).run_id,
    }
    for a, b in zip(three, four):
        _same(a, b[b.seed.isin([0, 1, 2]) | (b.split == "val")])
    fresh, _ = batch([_seeds(s, 4) for s in base], "fresh", where=tmp_path / "other")
    for a, b in zip(four, fresh):
        _same(a, b)  # seed 3 alone equals seed 3 trained with the others
    two, outs2 = batch([_seeds(s, 2) for s in base], "two")
    assert set(_trained_in(outs2[1]).values()) == {_seeds(base[1], 3).run_id}  # nothing trained
    _same(two[1], four[1][four[1].seed.isin([0, 1]) | (four[1].split == "val")])


@pytest.mark.parametrize("kind", ["imp_and_control", "search", "spectral"])
def test_every_run_kind_reuses_its_seeds_bitwise(tmp_path, digits, kind):
    store, other = tmp_path / "replicates", tmp_path / "other"

    def run(spec, tag, where, trunk=None):
        out = tmp_path / tag / spec.run_id
        df = experiments.run(spec, out, data_path=digits, trunk_masks=trunk, replicates=where)
        return df, out

    if kind == "spectral":
        spec = RunSpec("spectral", "relu", ("relu",), dataset="sines", depth=1, width=8,
                       epochs=20, eval_every=10, freqs=(2, 4), n_points=16)  # fmt: skip
    elif kind == "search":
        spec = RunSpec("search", "best_set", ("relu",), pool=("relu", "tanh", "sin"),
                       candidates=3, keep=1, large_depth=4, tune_seeds=2,
                       **{**SMALL, "depth": 2})  # fmt: skip
    else:
        spec = RunSpec("imp", "imp", ("relu",), prune_rounds=2, **SMALL)
    small, _ = run(_seeds(spec, 2), "a", store)
    big, out = run(_seeds(spec, 3), "b", store)
    assert list(_trained_in(out).values()).count(_seeds(spec, 3).run_id) == 1  # seed 2 only
    fresh, fout = run(_seeds(spec, 3), "c", other)
    _same(big, fresh)
    if kind == "imp_and_control":
        with np.load(out / "masks.npz") as m, np.load(fout / "masks.npz") as f:
            assert all(np.array_equal(m[k], f[k]) for k in m.files)

        def ctl(n):
            trunk = _seeds(spec, n).run_id
            return RunSpec("control", "reinit", ("relu",), control="reinit", prune_rounds=2,
                           trunk=trunk, seeds=tuple(range(n)), **SMALL)  # fmt: skip

        run(ctl(2), "a", store, trunk=tmp_path / "a" / _seeds(spec, 2).run_id / "masks.npz")
        c3, cout = run(ctl(3), "b", store, trunk=out / "masks.npz")
        assert list(_trained_in(cout).values()).count(ctl(3).run_id) == 1
        c3f, _ = run(ctl(3), "c", other, trunk=fout / "masks.npz")
        _same(c3, c3f)


def test_a_seed_stored_before_its_kind_gained_a_metric_trains_again(tmp_path, digits):
    """An IMP seed stored without weights_kept rows (rows_version 1) is not
    reused: it trains again, and the run's rows have the metric."""
    spec = RunSpec("imp", "imp", ("relu",), prune_rounds=1, seeds=(0, 1), **SMALL)
    store = tmp_path / "replicates"
    experiments.run(spec, tmp_path / "a" / spec.run_id, data_path=digits, replicates=store)
    for f in store.glob("*/seed_0.json"):  # seed 0 as an older nnclaims stored it
        meta = json.loads(f.read_text())
        del meta["rows_version"]
        f.write_text(json.dumps(meta))
        rows = f.with_suffix(".parquet")
        pd.read_parquet(rows).query("metric != 'weights_kept'").to_parquet(rows)
    (seed1,) = store.glob("*/seed_1.json")
    before = seed1.stat().st_mtime_ns
    df = experiments.run(spec, tmp_path / "b" / spec.run_id, data_path=digits, replicates=store)
    (seed0,) = store.glob("*/seed_0.json")
    assert json.loads(seed0.read_text())["rows_version"] == 2  # trained and stored again
    assert seed1.stat().st_mtime_ns == before  # reused
    assert sorted(df[df.metric == "weights_kept"].seed.unique()) == [0, 1]
