"""The paper-scale image models: one tiny training step each on the CPU, masks, augmentation,
and the paper profile's DAG (a dry run: its data are downloads this machine does not make)."""

from __future__ import annotations

import re
import subprocess

import pytest
import torch
import yaml

from nnclaims import cli
from nnclaims.nets import pruning, vision
from nnclaims.plan.runs import make_plan
from nnclaims.train import engine
from nnclaims.train.engine import Arrays, augment_crop_flip, train_classifier

ARCHS = [
    ("vgg_he", 2, (3, 32, 32)),
    ("vgg_he", 4, (3, 32, 32)),
    ("resnet", 20, (3, 32, 32)),
    ("resnet", 164, (3, 32, 32)),
    ("conv", 2, (3, 32, 32)),
    ("conv", 4, (3, 32, 32)),
    ("conv", 6, (3, 32, 32)),
    ("lenet", 0, (1, 28, 28)),
]


def _stack(name, depth, shape, seeds=(0, 1), acts=("relu",), layer_acts=()):
    return vision.ModuleStack(
        list(seeds),
        [100 + s for s in seeds],
        lambda: vision.build(name, depth, acts, layer_acts, shape, 10),
    )


def _tiny(shape, n=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Arrays(x, y, x[:4], y[:4])


@pytest.mark.parametrize("name,depth,shape", ARCHS)
def test_each_architecture_trains_one_step(name, depth, shape):
    torch.manual_seed(0)
    model = _stack(name, depth, shape)
    before = [w.clone() for w in model.weights]
    hist = train_classifier(
        model, _tiny(shape), 1, 4, 0.01, optimizer="sgd", momentum=0.9, augment=shape[0] == 3
    )
    assert torch.isfinite(torch.as_tensor(hist["train_loss"])).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.weights))
    assert hist["diverged_epoch"].tolist() == [0, 0]


def test_parameter_counts_match_the_papers():
    def count(name, depth, shape):
        return sum(
            p.numel() for p in vision.build(name, depth, ("relu",), (), shape, 10).parameters()
        )

    assert abs(count("resnet", 20, (3, 32, 32)) - 0.27e6) < 0.01e6  # He et al. 2016: 0.27M
    assert abs(count("resnet", 164, (3, 32, 32)) - 1.7e6) < 0.05e6  # 1.7M
    assert count("lenet", 0, (1, 28, 28)) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    assert abs(count("conv", 6, (3, 32, 32)) - 2.26e6) < 0.05e6  # Frankle & Carbin: 2.3M


def test_per_block_sets_are_duplicated_when_scaled_up():
    assert vision.layer_functions(("relu",), ("abs", "softplus_abs", "identity"), 3) == [
        "abs",
        "softplus_abs",
        "identity",
    ]
    assert vision.layer_functions(("relu",), ("abs", "softplus_abs", "identity"), 5) == [
        "abs",
        "abs",
        "softplus_abs",
        "softplus_abs",
        "identity",
    ]
    with pytest.raises(ValueError, match="within-layer mix"):
        vision.layer_functions(("relu", "tanh"), (), 3)


def test_pruned_weights_stay_zero_under_sgd_momentum():
    model = _stack("conv", 2, (3, 32, 32))
    masks = [torch.ones_like(w) for w in model.weights]
    masks = pruning.prune_by_magnitude(model.weights, masks, pruning.rates_for(masks, 0.2, 0.1))
    model.set_masks(masks)
    train_classifier(model, _tiny((3, 32, 32)), 2, 4, 0.05, optimizer="sgd", momentum=0.9)
    for w, m in zip(model.weights, masks):
        assert (w[m == 0] == 0).all()
        assert (w[m == 1] != 0).float().mean() > 0.99
    conv_kept = masks[0][0].mean().item()
    assert abs(conv_kept - 0.9) < 0.01  # conv layers at the conv rate


# one of each family (bfloat16 convolutions are slow on a CPU: the deeper ones add nothing here)
ONE_EACH = {("vgg_he", 2), ("resnet", 20), ("conv", 2), ("lenet", 0)}
BF16_ARCHS = [a for a in ARCHS if a[:2] in ONE_EACH]


@pytest.mark.parametrize("name,depth,shape", BF16_ARCHS)
def test_bf16_autocast_trains_like_fp32_within_tolerance_and_keeps_fp32_weights(name, depth, shape):
    """precision bf16: the forward pass in bfloat16, weights, optimizer state and loss in
    float32. Four SGD steps (lr 0.003, momentum 0.9) from the same init, batches and dropout
    draws end near the fp32 run: the training loss within 2 % each epoch (measured ≤ 1.1 %), the
    test loss within 10 % (measured ≤ 0.13 %, but 6.1 % for VGG-HE, whose eval-mode BatchNorm
    reads running statistics of four batches), the weights' updates pointing the same way
    (cosine ≥ 0.95; measured ≥ 0.974), the weights still float32 and not equal to fp32's."""
    data = _tiny(shape, n=16)
    runs = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)  # the same dropout draws (VGG-HE) in both runs
        model = _stack(name, depth, shape)
        start = [w.clone() for w in model.weights]
        hist = train_classifier(model, data, 2, 8, 0.003, optimizer="sgd", momentum=0.9,
                                precision=precision)  # fmt: skip
        runs[precision] = (hist, start, model)
    (h32, w0, m32), (h16, _, m16) = runs["fp32"], runs["bf16"]
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    for metric, rtol in (("train_loss", 0.02), ("test_loss", 0.1)):
        assert torch.allclose(torch.as_tensor(h16[metric]), torch.as_tensor(h32[metric]),
                              rtol=rtol), metric  # fmt: skip
    d16 = torch.cat([(a - w).flatten() for a, w in zip(m16.weights, w0)])
    d32 = torch.cat([(b - w).flatten() for b, w in zip(m32.weights, w0)])
    assert torch.nn.functional.cosine_similarity(d16, d32, dim=0) >= 0.95
    assert not torch.equal(d16, d32)  # bf16 did run: fp32 would be bit for bit the same


def test_bf16_member_k_trains_as_it_would_alone():
    """Stacked and alone agree in bf16 too: each member is its own module with its own batches."""
    shape = (1, 28, 28)
    data = _tiny(shape, n=16)
    both = _stack("lenet", 0, shape, seeds=(0, 1))
    alone = _stack("lenet", 0, shape, seeds=(1,))
    for m in (both, alone):
        train_classifier(m, data, 1, 8, 0.01, optimizer="sgd", precision="bf16")
    for wa, wb in zip(both.weights, alone.weights):
        assert torch.equal(wa[1], wb[0])


def test_an_unknown_precision_is_refused():
    from nnclaims.core.hparams import RunSpec

    with pytest.raises(ValueError, match="No such precision: 'fp16'. Known: fp32, bf16"):
        RunSpec("classify", "relu", ("relu",), precision="fp16")


def test_member_k_of_a_stack_equals_a_stack_of_one():
    a = _stack("vgg_he", 2, (3, 32, 32), seeds=(0, 1, 2))
    b = _stack("vgg_he", 2, (3, 32, 32), seeds=(2,))
    for wa, wb in zip(a.weights, b.weights):
        assert torch.equal(wa[2], wb[0])


def test_augmentation_is_a_padded_crop_or_its_mirror():
    x = torch.randn(2, 3, 3, 8, 8)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    out = augment_crop_flip(x, gens, pad=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for k in range(2):
        for b in range(3):
            crops = [padded[k, b, :, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
            crops += [c.flip(-1) for c in crops]
            assert any(torch.equal(out[k, b], c) for c in crops)
    again = augment_crop_flip(x, [torch.Generator().manual_seed(s) for s in (1, 2)], pad=2)
    assert torch.equal(out, again)


def test_device_auto_falls_back_to_cpu_and_cuda_without_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert engine.resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        engine.resolve_device("cuda")


def _paper_dry_run(project, *args):
    """`snakemake -n` of the paper profile in the project copy."""
    cmd = ["snakemake", "-n", "--configfile", "config/paper.yaml", *args]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "claim, change, message",
    [
        ("swish_vs_relu", {"train": {"depth": 21}}, "ResNet depth must be 6n+2 (20, 56, 110)"),
        ("mixed_scaling", {"sizes": [2, 6]}, "6 VGG blocks halve a 32-pixel image below one"),
        ("sparse_vs_dense", {"train": {"depth": 3}}, "Conv-N needs N in 2, 4, 6"),
    ],
)
def test_an_image_depth_the_model_cannot_build_stops_the_plan(project, claim, change, message):
    """named before any job, not in a job after the download and round 0."""
    cfg = yaml.safe_load((project / "config/paper.yaml").read_text())
    c = cfg["claims"][claim]
    for k, v in change.items():
        c[k] = {**c.get(k, {}), **v} if isinstance(v, dict) else v
    with pytest.raises(ValueError, match=f"claims.{claim} .*{re.escape(message)}"):
        make_plan(cfg)
    (project / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(
        ["snakemake", "-n", "--configfile", "bad.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0 and message in r.stdout + r.stderr


def test_paper_profile_dag_builds(project):
    r = _paper_dry_run(project, "--cores", "1", "--quiet", "rules")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    for rule in ("download", "train", "train_with_masks", "report"):
        assert rule in out, rule
    r = _paper_dry_run(
        project, "--config", "device=cuda", "--profile", "profiles/slurm", "--slurm-no-account"
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_cost_estimate_counts_flops(capsys, monkeypatch):
    monkeypatch.chdir(cli.Path(__file__).resolve().parents[1])
    assert cli.main(["cost", "--config", "config/paper.yaml", "--tflops", "10"]) == 0
    out = capsys.readouterr().out
    total = [line for line in out.splitlines() if line.startswith("total")][0].split()
    assert float(total[2]) > 100  # PFLOP: ResNet-56 × 9 arms × 2 datasets × 5 seeds × 200 epochs


def tiny_images(path):
    """40 train and 12 test random 3×32×32 uint8 images in 10 classes, as a dataset file."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8),
        y_train=rng.integers(0, 10, 40),
        x_test=rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8),
        y_test=rng.integers(0, 10, 12),
    )
    return path


def test_image_runs_through_the_experiment_code(tmp_path):
    """classify (SGD, augmentation), IMP with a conv rate and a reinit control, on tiny images
    written as a real dataset file: the path the paper profile's jobs take."""

    from nnclaims.core.hparams import RunSpec
    from nnclaims.run import experiments

    npz = tiny_images(tmp_path / "imgs.npz")
    kw = dict(dataset="cifar10", depth=2, epochs=1, batch_size=20, seeds=(0, 1))
    cls = RunSpec(
        "classify",
        "swish",
        ("swish",),
        model="vgg_he",
        optimizer="sgd",
        lr=0.01,
        momentum=0.9,
        augment=True,
        **kw,
    )
    df = experiments.run(cls, tmp_path / "c", data_path=npz)
    assert set(df.metric) >= {"test_acc", "train_loss"} and df.value.notna().all()
    imp = RunSpec(
        "imp",
        "imp",
        ("relu",),
        model="conv",
        prune_rounds=1,
        prune_fraction=0.2,
        conv_prune_fraction=0.1,
        lr=1e-3,
        **kw,
    )
    experiments.run(imp, tmp_path / "i", data_path=npz)
    ctl = RunSpec(
        "control",
        "reinit",
        ("relu",),
        model="conv",
        prune_rounds=1,
        control="reinit",
        trunk=imp.run_id,
        prune_fraction=0.2,
        conv_prune_fraction=0.1,
        lr=1e-3,
        **kw,
    )
    out = experiments.run(ctl, tmp_path / "r", data_path=npz, trunk_masks=tmp_path / "i/masks.npz")
    assert out["level"].between(0.7, 0.9).all()  # one round: conv at 90 %, dense at 80 %


def test_lr_grid_and_set_search_are_refused_for_image_models():
    import yaml

    from nnclaims.plan.runs import make_plan

    cfg = yaml.safe_load(
        (cli.Path(__file__).resolve().parents[1] / "config/paper.yaml").read_text()
    )
    cfg["train"]["lr_grid"] = [0.1, 0.01]
    with pytest.raises(ValueError, match="lr_grid works with the stacked models"):
        make_plan(cfg)


def test_paper_profile_merged_over_the_default_leaks_nothing():
    """Snakemake merges --configfile over config/config.yaml: the paper profile must switch off
    every default-only setting, so its plan is the same as the file's own."""
    import yaml

    from nnclaims.plan.runs import make_plan

    root = cli.Path(__file__).resolve().parents[1]

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    paper = yaml.safe_load((root / "config/paper.yaml").read_text())
    merged = merge(yaml.safe_load((root / "config/config.yaml").read_text()), paper)
    runs = make_plan(merged).runs
    assert set(runs) == set(make_plan(paper).runs)
    assert {s.dataset for s in runs.values()} == {"cifar10", "cifar100", "sines"}
