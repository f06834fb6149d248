"""The CUDA path, checked on a machine with a GPU (CI has none; run this on a GPU node).

    PYTHONPATH=src python benchmarks/cuda_check.py [--data results/data/mnist1d.npz] [--out DIR]

1. Exactness on the GPU, float64: K models trained as one stack equal each trained alone (MLP and
   CNN, with masks, with a mix of activations), and the GPU's numbers agree with the CPU's.
2. The experiment code with device=cuda: classification with an lr search, IMP and its reinit
   control on the MLP, a CNN run, and one SGD + augmentation step of every image architecture.
3. Throughput of the engine on the GPU (float32), for scale against the CPU benchmark; with
   --paper, one epoch of each paper-profile architecture in fp32 and in bf16 (`precision`),
   with the sustained TFLOP/s of each (for `nnclaims cost`); with --fast, one airbench94 training
   (10 epochs, bf16 and fp32) on CIFAR-shaped random images, and the fast image profile's
   training time projected from it (config/cifar_fast.yaml).
Prints one line per check and ends with `cuda_check: all passed` or exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nnclaims.data.datasets import linear_toy
from nnclaims.nets import pruning, vision
from nnclaims.nets.models import StackedCNN, StackedMLP
from nnclaims.train import engine
from nnclaims.train.engine import Arrays


def toy(n=400, d=40, classes=4, dtype=torch.float64, seed=0) -> Arrays:
    return linear_toy(n, d, classes, dtype, seed)


def _build(model, seeds, acts, masks=None):
    m = model(seeds, 40, 2, 16, 4, acts, dtype=torch.float64)
    if masks is not None:
        m.set_masks(masks)
    return m


def exactness() -> None:
    d = toy()
    for model in (StackedMLP, StackedCNN):
        for acts in (["relu"], ["relu", "swish_beta", "tanh", "hat"]):
            seeds = [0, 1, 2]

            def build(ss, masks=None, model=model, acts=acts):
                return _build(model, ss, acts, masks)

            ref = build(seeds)
            masks = pruning.random_masks_like(
                pruning.prune_by_magnitude(
                    list(ref.weights), [torch.ones_like(w) for w in ref.weights], [0.5] * 3
                ),
                [11, 12, 13],
            )
            h_gpu = engine.train_classifier(build(seeds, masks), d, 3, 50, 1e-2, device="cuda")
            h_cpu = engine.train_classifier(build(seeds, masks), d, 3, 50, 1e-2, device="cpu")
            alone = 0.0
            for i, s in enumerate(seeds):
                one = build([s], [m[i : i + 1] for m in masks])
                h1 = engine.train_classifier(one, d, 3, 50, 1e-2, device="cuda")
                alone = max(alone, np.abs(h_gpu["test_loss"][:, i] - h1["test_loss"][:, 0]).max())
            vs_cpu = np.abs(h_gpu["test_loss"] - h_cpu["test_loss"]).max()
            name = f"{model.__name__} {'+'.join(acts)}"
            print(f"exactness {name}: stack vs alone {alone:.1e}, GPU vs CPU {vs_cpu:.1e}")
            assert alone < 1e-10 and vs_cpu < 1e-8, name


def experiment_code(data: Path | None, out: Path) -> None:
    from nnclaims.core.hparams import RunSpec
    from nnclaims.run import experiments

    if data is None:
        d = toy(n=1000, dtype=torch.float32)
        data = out / "toy.npz"
        np.savez(
            data,
            **{k: getattr(d, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")},
        )
    kw = dict(epochs=3, seeds=(0, 1, 2))
    runs = [
        RunSpec("classify", "swish_beta", ("swish_beta",), lr_grid=(3e-3, 1e-2), **kw),
        RunSpec("classify", "relu_cnn", ("relu",), model="cnn", depth=3, width=25, **kw),
    ]
    imp = RunSpec("imp", "imp", ("relu",), prune_rounds=2, **kw)
    ctl = RunSpec(
        "control", "reinit", ("relu",), prune_rounds=2, control="reinit", trunk=imp.run_id, **kw
    )
    for spec in [*runs, imp, ctl]:
        t = time.perf_counter()
        masks = out / imp.run_id / "masks.npz" if spec.kind == "control" else None
        df = experiments.run(
            spec, out / spec.run_id, data_path=data, trunk_masks=masks, device="cuda"
        )
        acc = df[(df.metric == "test_acc") & (df.split == "test")]
        used = json.loads((out / spec.run_id / "hparams.json").read_text())["device"]
        assert used.startswith("cuda") and acc.value.notna().all(), spec.run_id
        final = acc[acc.epoch == acc.epoch.max()].value.mean()
        took = time.perf_counter() - t
        print(f"run {spec.kind} {spec.arm} on cuda: test acc {final:.1f} % ({took:.1f} s)")
    images = [("vgg_he", 2, (3, 32, 32)), ("resnet", 20, (3, 32, 32))]
    images += [("conv", 2, (3, 32, 32)), ("lenet", 0, (1, 28, 28))]
    for name, depth, shape in images:

        def net(name=name, depth=depth, shape=shape):
            return vision.build(name, depth, ("relu",), (), shape, 10)

        stack = vision.ModuleStack([0, 1], [100, 101], net)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(16, *shape, generator=g)
        y = torch.randint(0, 10, (16,), generator=g)
        sgd = dict(optimizer="sgd", momentum=0.9, augment=shape[0] == 3, device="cuda")
        h = engine.train_classifier(stack, Arrays(x, y, x[:8], y[:8]), 1, 8, 0.01, **sgd)
        assert np.isfinite(h["train_loss"]).all(), name
        assert next(stack.parameters()).device.type == "cuda", name
        print(f"image model {name}: one SGD step on cuda, loss {h['train_loss'][0].mean():.3f}")


def throughput() -> None:
    d = toy(n=4000, dtype=torch.float32)
    for model, k, shape in ((StackedMLP, 64, (2, 100)), (StackedCNN, 32, (3, 25))):
        m = model(list(range(k)), 40, *shape, 10, ["relu"])
        engine.train_classifier(m, d, 1, 100, 1e-2, device="cuda")
        torch.cuda.synchronize()
        t = time.perf_counter()
        engine.train_classifier(m, d, 5, 100, 1e-2, device="cuda")
        torch.cuda.synchronize()
        rate = 5 * k / (time.perf_counter() - t)
        print(f"throughput {model.__name__} K={k} on cuda: {rate:.0f} model-epochs/s")


# the paper profile's architectures at their batch size, optimizer and augmentation
# (config/paper.yaml): name, depth, batch, optimizer, augment
PAPER_SETUPS = [
    ("resnet", 56, 128, "sgd", True),
    ("resnet", 20, 128, "sgd", True),
    ("vgg_he", 2, 256, "sgd", False),
    ("vgg_he", 4, 256, "sgd", False),
    ("conv", 2, 60, "adam", False),
]
# how the K seeds of a run train: stacking, precision, compile mode. The first is
# the README table's path.
PAPER_MODES = [
    ("loop", "fp32", "none"),
    ("loop", "bf16", "none"),
    ("vmap", "bf16", "none"),
    ("vmap", "bf16", "default"),
    ("vmap", "bf16", "reduce-overhead"),
]


def paper_rates(
    k: int = 5,
    steps: int = 100,
    warm: int = 20,
    dev: str = "cuda",
    setups=PAPER_SETUPS,
    modes=PAPER_MODES,
    shape=(3, 32, 32),
) -> dict[tuple[str, int], dict[tuple[str, str, str], float]]:
    """Each paper architecture's sustained TFLOP/s in each mode, K = 5 seeds: `steps` training
    steps of the engine's loop (after `warm` steps, in which cuDNN and torch.compile settle),
    timed, with FLOPs counted by torch's FlopCounterMode as `nnclaims cost` counts them. The
    pipeline's flags are set as its training jobs set them (experiments.setup: cuDNN's
    deterministic kernels, no benchmark search). Returns {(model, depth): {mode: TFLOP/s}}."""
    from torch.utils.flop_counter import FlopCounterMode

    from nnclaims.nets.vmapstack import VmapStack

    if dev == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    rates: dict = {}
    for name, depth, batch, opt, aug in setups:

        def net(name=name, depth=depth):
            return vision.build(name, depth, ("relu",), (), shape, 10)

        one = vision.ModuleStack([0], [100], net)
        counter = FlopCounterMode(display=False)
        with counter:
            one.logits_cb(torch.randn(1, 2, *shape)).sum().backward()
        per_example = counter.get_total_flops() / 2
        g = torch.Generator().manual_seed(0)
        n = steps * batch
        x = torch.randn(n, *shape, generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
        timed = Arrays(x, y, x[:batch], y[:batch])  # scored once, on one batch: training dominates
        warmup = Arrays(x[: warm * batch], y[: warm * batch], x[:batch], y[:batch])
        for stacking, precision, compile in modes:
            make = vision.ModuleStack if stacking == "loop" else VmapStack
            stack = make(list(range(k)), [100 + i for i in range(k)], net)
            kw = dict(optimizer=opt, momentum=0.9 if opt == "sgd" else 0.0, augment=aug,
                      precision=precision, compile=compile, device=dev)  # fmt: skip
            mode = f"{stacking} {precision} compile {compile}"
            label = f"paper {name}-{depth} K={k} batch {batch} {mode}"
            try:  # a mode that fails here (e.g. a CUDA-graph limit) is reported, not fatal
                t = time.perf_counter()
                engine.train_classifier(stack, warmup, 1, batch, 0.01, **kw)
                sync()
                settle = time.perf_counter() - t
                t = time.perf_counter()
                engine.train_classifier(stack, timed, 1, batch, 0.01, **kw)
                sync()
                sec = time.perf_counter() - t
            except Exception as e:  # noqa: BLE001 (any failure of a mode is its result)
                rates.setdefault((name, depth), {})[(stacking, precision, compile)] = float("nan")
                print(f"{label}: FAILED ({type(e).__name__}: {str(e).splitlines()[0][:300]})")
                continue
            rate = per_example * n * k / sec / 1e12
            rates.setdefault((name, depth), {})[(stacking, precision, compile)] = rate
            epoch = sec / n * 50_000
            print(
                f"{label}: {rate:.2f} TFLOP/s sustained ({epoch:.1f} s per 50,000-image epoch; "
                f"warm-up {settle:.0f} s)"
            )
    return rates


def paper_hours(rates, config: Path = Path("config/paper.yaml")) -> None:
    """GPU-hours of the paper profile in each mode: every run's training FLOPs (`nnclaims cost`'s
    count) at its architecture's measured rate in that mode; then with each architecture in its
    own fastest mode (a claim's `train:` can set its own stacking and compile). Architectures
    not (yet) measured are listed with their FLOPs, not guessed."""
    from nnclaims.cli import load_config
    from nnclaims.nets.vision import IMAGE_MODELS
    from nnclaims.plan import resources
    from nnclaims.plan.runs import make_plan

    plan = make_plan(load_config(str(config), None, None))  # as `nnclaims cost` reads it
    flops: dict[tuple[str, int], float] = {}
    other = 0.0
    for spec in plan.runs.values():
        if spec.model in IMAGE_MODELS:
            arch = (spec.model, spec.depth)
            flops[arch] = flops.get(arch, 0.0) + resources.train_flops(spec)
        else:  # the spectral probe's MLPs
            other += resources.train_flops(spec)
    measured = {a: f for a, f in flops.items() if a in rates}
    unmeasured = {a: f for a, f in flops.items() if a not in rates}

    def hours(pick) -> float:
        return sum(f / (rates[a][pick(a)] * 1e12) / 3600 for a, f in measured.items())

    for mode in dict.fromkeys(m for r in rates.values() for m in r):
        lacking = [f"{a[0]}-{a[1]}" for a in measured if mode not in rates[a]]
        h = "incomplete" if lacking else f"{hours(lambda a, m=mode: m):.1f} GPU-hours"
        print(f"paper profile ({config}) with stacking {mode[0]}, precision {mode[1]}, "
              f"compile {mode[2]}: {h}"
              + (f" (not timed for {', '.join(lacking)})" if lacking else ""))  # fmt: skip
    # a failed mode (NaN) is never the fastest
    best = {a: max(r, key=lambda m, r=r: np.nan_to_num(r[m], nan=-1.0)) for a, r in rates.items()}
    for (name, depth), m in best.items():
        print(f"fastest for {name}-{depth}: stacking {m[0]}, precision {m[1]}, compile {m[2]} "
              f"({rates[(name, depth)][m]:.2f} TFLOP/s)")  # fmt: skip
    print(
        f"paper profile with each architecture in its fastest mode: {hours(best.get):.1f} "
        f"GPU-hours of training for {', '.join(f'{a[0]}-{a[1]}' for a in measured)}; not timed: "
        + (
            ", ".join(f"{a[0]}-{a[1]} ({f / 1e15:.1f} PFLOP)" for a, f in unmeasured.items())
            or "none"
        )  # fmt: skip
        + f"; not counted: {other / 1e15:.2f} PFLOP of MLP runs, the download, notebooks and PDF"
    )


def fast_profile(
    config: Path = Path("config/cifar_fast.yaml"),
    n: int = 50_000,
    n_test: int = 10_000,
    dev: str = "cuda",
    batch: int = 1024,
) -> None:
    """One airbench94 model trained with its recipe on 50,000 CIFAR-shaped random images for 10
    epochs (test: 10,000), timed in bf16 and fp32 after a warm-up, and the fast profile's
    training time at that rate: its model-epochs (lr searches included, `nnclaims cost`'s count)
    × seconds per model-epoch. Random images: the accuracy means nothing, the time does."""
    import yaml

    from nnclaims.plan import resources
    from nnclaims.plan.runs import make_plan
    from nnclaims.train import airbench

    shape, epochs = (3, 32, 32), 10
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n + n_test, *shape, generator=g)
    y = torch.randint(0, 10, (n + n_test,), generator=g)
    data = Arrays(x[:n], y[:n], x[n:], y[n:])
    w, wt = min(n, 4096), min(n_test, 512)  # the warm-up's sets
    small = Arrays(x[:w], y[:w], x[n : n + wt], y[n : n + wt])
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def net():
        return vision.build("airbench", 3, ("gelu",), (), shape, 10)

    hyp = dict(lr=11.5, momentum=0.85, weight_decay=0.0153, device=dev)
    per_epoch = {}
    for precision in ("bf16", "fp32"):
        # warm-up: cuDNN picks its kernels
        airbench.train(vision.ModuleStack([0], [100], net), small, 2, batch, **hyp,
                       precision=precision)  # fmt: skip
        sync()
        t = time.perf_counter()
        airbench.train(vision.ModuleStack([0], [100], net), data, epochs, batch, **hyp,
                       precision=precision)  # fmt: skip
        sync()
        sec = time.perf_counter() - t
        per_epoch[precision] = sec / epochs
        print(f"airbench94 {precision}: {sec:.1f} s for one model, {epochs} epochs of {n} images"
              f" (each scored with TTA on {n_test})")  # fmt: skip
    plan = make_plan(yaml.safe_load(config.read_text()))
    work = sum(resources.work(s) for s in plan.runs.values() if s.model == "airbench")
    minutes = work * per_epoch["bf16"] / 60
    print(
        f"fast profile ({config}): {work:.0f} model-epochs of airbench94 ≈ {minutes:.1f} min of "
        "training at the bf16 rate (not counted: download, spectral probe, notebooks, PDF)"
    )


def _rates_file(path: Path | None, rates: dict) -> dict:
    """Merge `rates` into the JSON file at `path` (one GPU call per architecture fits the device
    tool's 10-minute limit; the file collects them) and return everything it now holds."""
    if path is None:
        return rates
    old = json.loads(path.read_text()) if path.exists() else {}
    for (name, depth), modes in rates.items():
        for mode, r in modes.items():
            old.setdefault(f"{name}-{depth}", {})[":".join(mode)] = r
    path.write_text(json.dumps(old, indent=1) + "\n")
    return {
        (a.rsplit("-", 1)[0], int(a.rsplit("-", 1)[1])): {
            tuple(m.split(":")): r for m, r in ms.items()
        }
        for a, ms in old.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a dataset .npz (default: a generated toy set)")
    ap.add_argument("--out", type=Path, help="where the runs go (default: a temporary folder)")
    ap.add_argument("--paper", action="store_true", help="also time the paper models")
    ap.add_argument("--fast", action="store_true", help="also time airbench94 (the fast profile)")
    ap.add_argument("--skip-checks", action="store_true", help="only the timings asked for")
    ap.add_argument(
        "--arch", action="append", help="--paper: only this architecture (e.g. resnet-56; repeat)"
    )
    ap.add_argument(
        "--mode", action="append", help="--paper: only this mode (e.g. vmap:bf16:default; repeat)"
    )
    ap.add_argument("--steps", type=int, default=100, help="--paper: timed steps per mode")
    ap.add_argument(
        "--rates", type=Path, help="--paper: merge the rates into this JSON file, project from all"
    )
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU visible to torch: run this on a GPU machine.")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    if not args.skip_checks:
        exactness()
        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            experiment_code(args.data, out)
        throughput()
    if args.paper:
        setups = [s for s in PAPER_SETUPS if not args.arch or f"{s[0]}-{s[1]}" in args.arch]
        modes = [m for m in PAPER_MODES if not args.mode or ":".join(m) in args.mode]
        if not setups or not modes:
            raise SystemExit(f"--arch/--mode match nothing: {PAPER_SETUPS}, {PAPER_MODES}")
        rates = _rates_file(args.rates, paper_rates(setups=setups, modes=modes, steps=args.steps))
        paper_hours(rates)
    if args.fast:
        fast_profile()
    print("cuda_check: all passed")


if __name__ == "__main__":
    main()
