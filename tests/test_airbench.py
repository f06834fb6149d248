"""The fast image profile's network and recipe (nnclaims.train.airbench) against the airbench
package's own code (tests/airbench_reference.py), on tiny random images on the CPU; and the
profile's plan (config/cifar_fast.yaml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import airbench_reference as ref
import pytest
import torch
import yaml

from nnclaims.core import seeding
from nnclaims.core.hparams import RunSpec
from nnclaims.nets import pruning, vision
from nnclaims.plan.runs import make_plan
from nnclaims.train import airbench
from nnclaims.train.engine import Arrays

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (3, 32, 32)
HYP = dict(lr=11.5, momentum=0.85, weight_decay=0.0153)


def _stack(seeds=(0, 1), acts=("gelu",), depth=3):
    return vision.ModuleStack(
        list(seeds),
        [100 + s for s in seeds],
        lambda: vision.build("airbench", depth, acts, (), SHAPE, 10),
    )


def _tiny(n=64, n_test=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, *SHAPE, generator=g)
    y = torch.randint(0, 10, (n + n_test,), generator=g)
    return Arrays(x[:n], y[:n], x[n:], y[n:])


def _reference(seed: int, data: Arrays, epochs: int, batch_size: int):
    """The package's loop for one seed, from the same init and the same random streams."""
    loader = ref.CifarLoader(
        data.x_train,
        data.y_train,
        batch_size,
        seeding.generator(seed, "augment"),
        seeding.generator(seed, "order"),
    )

    def make_net():
        torch.manual_seed(100 + seed)  # ModuleStack's init seed for this member
        return ref.make_net94()

    return ref.train(loader, epochs, make_net)


def test_recipe_trains_each_seed_as_the_package_does():
    """Four epochs of 3 steps (the whitening bias frozen after epoch 3, flips alternating,
    weight averaging every 5 steps and at the end): every weight, BatchNorm statistic and TTA
    logit of both stacked models equals the package's loop run alone, bit for bit."""
    data = _tiny(n=48)
    model = _stack()
    hist = airbench.train(model, data, 4, 16, **HYP)
    for k, seed in enumerate((0, 1)):
        theirs = _reference(seed, data, 4, 16)
        mine = model.members[k].state_dict()
        assert len(mine) == len(theirs.state_dict())
        for (name, a), b in zip(mine.items(), theirs.state_dict().values()):
            assert torch.equal(a, b), name
        logits = ref.infer(theirs, data.x_test)
        acc = (logits.argmax(1) == data.y_test).float().mean().item() * 100
        assert hist["test_acc"][-1, k] == pytest.approx(acc, abs=1e-4)  # theirs: float32
        model.members[k].eval()
        with torch.no_grad():
            assert torch.equal(airbench.tta_logits(model.members[k], data.x_test), logits)
    assert hist["diverged_epoch"].tolist() == [0, 0]
    assert (hist["train_loss"][-1] < hist["train_loss"][0]).all()


def test_the_network_is_the_packages_at_depth_3():
    mine = vision.build("airbench", 3, ("gelu",), (), SHAPE, 10)
    theirs = ref.make_net94()
    count = [sum(p.numel() for p in m.parameters()) for m in (mine, theirs)]
    assert count[0] == count[1] > 1.9e6
    trained = [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (mine, theirs)]
    assert trained[0] == trained[1]
    assert vision.build("airbench", 4, ("relu",), (), SHAPE, 10)(torch.randn(2, *SHAPE)).shape == (
        2,
        10,
    )
    with pytest.raises(ValueError, match="airbench needs 1 to 4 conv groups"):
        vision.build("airbench", 5, ("relu",), (), SHAPE, 10)


def test_each_group_takes_its_function_of_a_per_layer_set():
    net = vision.build("airbench", 3, ("relu",), ("abs", "softplus_abs", "identity"), SHAPE, 10)
    names = [g.act1.name for g in net.groups]
    assert names == ["abs", "softplus_abs", "identity"] and net.whiten_act.name == "abs"


def test_bf16_trains_like_fp32_within_tolerance_and_keeps_fp32_weights():
    """bf16 autocast under the recipe: one epoch of 5 steps (a weight average needs 5) ends near
    fp32 (training loss within 2 %, test loss within 10 %), the weights stay float32 and differ
    from fp32's (bf16 did run; bfloat16 convolutions are slow on a CPU, hence the few steps)."""
    data = _tiny(n=40, n_test=8)
    runs = {}
    for precision in ("fp32", "bf16"):
        model = _stack(seeds=(0,))
        runs[precision] = (airbench.train(model, data, 1, 8, **HYP, precision=precision), model)
    (h32, m32), (h16, m16) = runs["fp32"], runs["bf16"]
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    for metric, rtol in (("train_loss", 0.02), ("test_loss", 0.1)):
        assert torch.allclose(
            torch.as_tensor(h16[metric]), torch.as_tensor(h32[metric]), rtol=rtol
        ), metric
    assert not all(torch.equal(a, b) for a, b in zip(m16.weights, m32.weights))


def test_pruned_weights_stay_zero_under_the_recipe_and_the_whitening_is_not_pruned():
    model = _stack()
    assert "whiten.weight" not in model.prunable  # set from the data and frozen
    masks = [torch.ones_like(w) for w in model.weights]
    masks = pruning.prune_by_magnitude(model.weights, masks, pruning.rates_for(masks, 0.35, 0.35))
    model.set_masks(masks)
    airbench.train(model, _tiny(), 2, 16, **HYP)
    for w, m in zip(model.weights, masks):
        assert (w[m == 0] == 0).all()  # momentum and the weight average revive none
        assert (w[m == 1] != 0).float().mean() > 0.99


def test_a_diverged_seed_is_recorded_and_the_others_train_on():
    model = _stack()
    with torch.no_grad():  # seed 1's head made to overflow: its loss is inf from the first step
        model.members[1].head.weight.fill_(3e38)
    hist = airbench.train(model, _tiny(), 2, 16, **HYP)
    assert hist["diverged_epoch"].tolist() == [0, 1]
    assert torch.isnan(torch.as_tensor(hist["test_acc"][:, 1])).all()
    assert torch.isfinite(torch.as_tensor(hist["test_acc"][:, 0])).all()


def test_the_recipe_is_refused_for_another_model_and_an_unknown_recipe():
    with pytest.raises(ValueError, match="recipe airbench trains the airbench network"):
        RunSpec("classify", "relu", ("relu",), model="resnet", recipe="airbench")
    with pytest.raises(ValueError, match="No such recipe: 'fast'. Known: plain, airbench"):
        RunSpec("classify", "relu", ("relu",), recipe="fast")
    with pytest.raises(ValueError, match="model airbench trains with its recipe"):
        RunSpec("classify", "relu", ("relu",), model="airbench")


def _merge(a, b):
    for k, v in b.items():
        a[k] = _merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a


def test_fast_profile_plans_the_four_claims_and_leaks_nothing_from_the_default():
    fast = yaml.safe_load((ROOT / "config/cifar_fast.yaml").read_text())
    merged = _merge(yaml.safe_load((ROOT / "config/config.yaml").read_text()), fast)
    plan = make_plan(merged)
    assert set(plan.runs) == set(make_plan(fast).runs)
    assert set(plan.claim_runs) == {"swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense"}
    images = [s for s in plan.runs.values() if s.dataset == "cifar10"]
    assert {(s.model, s.recipe, s.precision) for s in images} == {("airbench", "airbench", "bf16")}
    assert all(len(s.seeds) >= 5 for s in images)
    searched = {s.arm for s in images if s.lr_grid}
    assert {"relu", "swish", "gelu", "hat"} <= searched  # each arm's lr from a validation split


def test_fast_profile_dag_builds(project):
    r = subprocess.run(
        ["snakemake", "-n", "--configfile", "config/cifar_fast.yaml", "--cores", "1", "--quiet"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_the_recipe_runs_through_the_experiment_code(tmp_path):
    """classify with an lr walk on the validation split (one recipe model per candidate lr),
    IMP and a random control, on tiny images written as a real dataset file: the path the fast
    profile's jobs take."""
    from test_vision import tiny_images

    from nnclaims.run import experiments

    npz = tiny_images(tmp_path / "imgs.npz")
    kw = dict(dataset="cifar10", model="airbench", recipe="airbench", depth=1, epochs=1,
              batch_size=8, seeds=(0, 1), **HYP)  # fmt: skip
    cls = RunSpec("classify", "hat", ("hat",), lr_grid=(5.75, 11.5, 23.0), lr_search="walk",
                  tune_seeds=1, **kw)  # fmt: skip
    df = experiments.run(cls, tmp_path / "c", data_path=npz)
    val = df[df["split"] == "val"]
    assert set(val["lr"]) >= {5.75, 11.5, 23.0}  # the walk's first three rates, scored
    test = df[(df["split"] == "test") & (df["metric"] == "test_acc")]
    assert test["value"].notna().all() and len(test) == 2
    imp = RunSpec("imp", "imp", ("relu",), prune_rounds=1, prune_fraction=0.35,
                  conv_prune_fraction=0.35, **kw)  # fmt: skip
    experiments.run(imp, tmp_path / "i", data_path=npz)
    pruning_kw = dict(prune_rounds=1, prune_fraction=0.35, conv_prune_fraction=0.35)
    ctl = RunSpec("control", "random", ("relu",), control="random", trunk=imp.run_id,
                  **pruning_kw, **kw)  # fmt: skip
    out = experiments.run(ctl, tmp_path / "r", data_path=npz, trunk_masks=tmp_path / "i/masks.npz")
    assert out["level"].between(0.6, 0.7).all()  # one round at 35 % (the head at half of it)
