"""Each seed its own data: per-seed draws (nnclaims.data.datasets.DRAWS), disjoint tuning seeds,
and the records a run keeps of what it was tested on."""

import json

import numpy as np
import pytest
import yaml
from conftest import ROOT

from nnclaims import kinds
from nnclaims.core.hparams import RunSpec
from nnclaims.data import datasets as data
from nnclaims.kinds import crossed as crossed_kind
from nnclaims.plan.runs import make_plan
from nnclaims.run import experiments


def test_an_mnist1d_draw_is_the_packages_own_generator_at_the_seeds_generator_seed():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = data.draw_seed(3)
    ref = make_dataset(args)
    mine = data.DRAWS["mnist1d"](3)
    assert np.array_equal(mine["x_train"], ref["x"].astype(np.float32))
    assert np.array_equal(mine["y_test"], ref["y_test"])
    other = data.DRAWS["mnist1d"](4)
    assert other["x_train"].shape == (4000, 40) and not np.array_equal(
        other["x_train"], mine["x_train"]
    )
    # the published draw (package seed 42) stays the dataset file's
    ref42 = make_dataset(get_dataset_args())["x_test"].astype(np.float32)
    assert np.array_equal(data.make_mnist1d()["x_test"], ref42)


def test_a_digits_draw_is_a_stratified_resplit_of_all_1797_images():
    from sklearn.datasets import load_digits

    d = load_digits()
    a, b = data.DRAWS["digits"](0), data.DRAWS["digits"](1)
    for x in (a, b):
        assert len(x["y_train"]) == 1437 and len(x["y_test"]) == 360
        pool = np.concatenate([x["x_train"], x["x_test"]]) * 16
        assert sorted(map(bytes, pool.astype(np.uint8))) == sorted(
            map(bytes, d.data.astype(np.uint8))
        )
        share = np.bincount(x["y_test"], minlength=10) / 360
        assert np.abs(share - np.bincount(d.target) / 1797).max() < 0.005  # stratified
    assert not np.array_equal(a["y_test"], b["y_test"])


def test_tuning_seeds_are_disjoint_from_evaluation_seeds_in_every_planned_run():
    plan = make_plan(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    searched = 0
    for spec in plan.runs.values():
        tune = set(kinds.tune_seeds(spec))
        assert not tune & set(spec.seeds), spec.run_id
        searched += bool(spec.lr_grid) or spec.kind == "search"
    assert searched > 20


def test_a_run_tunes_on_tuning_seeds_and_records_each_seeds_draw(tmp_path):
    spec = RunSpec("classify", "relu", ("relu",), dataset="digits", epochs=2, seeds=(0, 1),
                   lr_grid=(0.003, 0.01), tune_seeds=2, data_draw="seed")  # fmt: skip
    path = tmp_path / "data" / "digits.npz"
    path.parent.mkdir()
    data.prepare("digits", path)
    df = experiments.run(spec, tmp_path / "run", path, keep_weights=False)
    val = df[df["split"] == "val"]
    assert set(val["seed"]) == {10_000, 10_001}  # the lr search's models: never seed 0 or 1
    assert set(df[df["split"] == "test"]["seed"]) == {0, 1}
    rec = json.loads((tmp_path / "run" / "hparams.json").read_text())
    assert rec["data_draw"] == "seed"
    assert set(rec["draw_sha256"]) == {"0", "1", "10000", "10001"}
    assert (tmp_path / "data" / "digits" / "draw_10001.npz").exists()


def test_too_many_seeds_would_reach_the_tuning_seeds():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["seeds"] = 20_000
    with pytest.raises(ValueError, match="tuning seeds"):
        make_plan(config)


def test_seed_draws_need_a_dataset_that_has_them():
    with pytest.raises(ValueError, match="data_draw: fixed"):
        RunSpec("classify", "relu", ("relu",), dataset="cifar10", data_draw="seed")


def test_a_crossed_cell_on_its_own_seeds_draw_is_the_classify_runs_seed(tmp_path):
    """Kind crossed: model (draw d, seed i) with d = i is the classify run's seed i, bit for
    bit (same rate from the same tuning seeds, same draw, same init and batch order); the other
    cells differ from it."""
    path = tmp_path / "data" / "digits.npz"
    path.parent.mkdir()
    data.prepare("digits", path)
    kw = dict(dataset="digits", epochs=2, seeds=(0, 1), lr_grid=(0.003, 0.01), tune_seeds=1,
              data_draw="seed")  # fmt: skip
    plain = experiments.run(RunSpec("classify", "relu", ("relu",), **kw), tmp_path / "c", path,
                            keep_weights=False)  # fmt: skip
    crossed = experiments.run(RunSpec("crossed", "crossed:relu", ("relu",), draws=2, **kw),
                              tmp_path / "x", path, keep_weights=False)  # fmt: skip

    def acc(df, seed):
        d = df[(df["metric"] == "test_acc") & (df["seed"] == seed)].sort_values("epoch")
        return d["value"].to_numpy()

    code = crossed_kind.CODE
    assert set(crossed[crossed["metric"] == "test_acc"]["seed"]) == {0, 1, 1000, 1001}
    for i in (0, 1):
        assert np.array_equal(acc(crossed, code * i + i), acc(plain, i))
    assert not np.array_equal(acc(crossed, code * 1 + 0), acc(plain, 0))


def test_lr_from_trains_every_arm_at_the_rate_the_reference_validates(tmp_path):
    """The shared-rate rule of shared_vs_tuned: every arm at the rate ReLU's own lr search picks
    (the pick a relu run of the same setup makes), whatever the arm itself would pick."""
    path = tmp_path / "data" / "digits.npz"
    path.parent.mkdir()
    data.prepare("digits", path)
    kw = dict(dataset="digits", epochs=2, seeds=(0,), lr_grid=(0.0003, 0.003, 0.03),
              tune_seeds=1, data_draw="seed")  # fmt: skip
    relu = experiments.run(RunSpec("classify", "relu", ("relu",), **kw), tmp_path / "r", path,
                           keep_weights=False)  # fmt: skip
    shared = [
        RunSpec("classify", f"{a}_shared", (a,), lr_from="relu", **kw) for a in ("tanh", "sin")
    ]
    dfs = experiments.run_batch(shared, [tmp_path / "t", tmp_path / "s"], path, tmp_path / "ck",
                                keep_weights=False)  # fmt: skip
    picked = relu[relu["split"] == "test"]["lr"].unique()
    assert len(picked) == 1
    for df in dfs:
        assert set(df[df["split"] == "test"]["lr"]) == set(picked)
        # the validation rows that chose it are relu's search, under the run's own arm
        val = df[df["split"] == "val"].sort_values("lr")["value"].to_numpy()
        assert np.array_equal(val, relu[relu["split"] == "val"].sort_values("lr")["value"])
