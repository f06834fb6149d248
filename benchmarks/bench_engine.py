"""Whole-machine training throughput: the stacked engine (A) against what a user would write
instead: the plain loop (B) and the torch.func ensemble (C).

(B) is the textbook loop: one model at a time, nn.Module layers, Adam, batch 100, shuffled index
batches, no DataLoader, test evaluation every epoch. (C) is PyTorch's own model-ensembling
recipe: K nn.Module copies stacked with `torch.func.stack_module_state`, the forward pass
`vmap`ped over `functional_call`, `torch.optim.Adam` over the stacked leaves, each model its own
batch order. (A) is nnclaims.train.engine.train_classifier on K stacked models. Same work per
model-epoch. Each runs in two arrangements on all cores: one process with all threads, and one
single-thread process per core; the best arrangement of each is compared. The three alternate
`--repeats` times; medians.

    python benchmarks/bench_engine.py            # ~10 min on 2 cores
The last line is `speedup_vs_loop=mlp:<x>,cnn:<y> speedup_vs_vmap=mlp:<x>,cnn:<y>` (the engine
at K = 64 for the MLP and K = 32 for the CNN, over the best plain loop and the best ensemble at
the same K).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

N_TRAIN, N_TEST, BATCH = 4000, 1000, 100
SECONDS = 4.0  # target length of one measurement window per process (after a warm-up)


def macs_per_sample(model: str) -> int:
    if model == "mlp":
        return 40 * 100 + 100 * 100 + 100 * 10
    return 19 * 25 * 5 + 10 * 25 * 75 + 5 * 25 * 75 + 125 * 10  # MNIST-1D ConvBase


def flops_per_model_epoch(model: str) -> float:
    # forward + backward ≈ 3 × forward on the training set, forward only on the test set
    return 2 * macs_per_sample(model) * (3 * N_TRAIN + N_TEST)


DATA = os.path.join(os.environ.get("TMPDIR", "/tmp"), "nnclaims_bench_mnist1d.npz")


def _prepare_data() -> None:
    """The engine's MNIST-1D arrays (the published draw), written once for every worker."""
    import numpy as np

    from nnclaims.data import datasets as data

    path = "results/data/mnist1d.npz"
    d = data.load_arrays(path) if os.path.exists(path) else None
    if d is None:  # the generator standardises MNIST-1D itself
        arrays = data.make_mnist1d()
    else:
        arrays = {k: getattr(d, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
    np.savez(DATA, **arrays)


def _data(engine: bool):
    """The arrays; the plain loop's without importing nnclaims (see worker)."""
    import numpy as np
    import torch

    with np.load(DATA) as z:
        t = {k: torch.as_tensor(z[k]) for k in z.files}
    if engine:
        from nnclaims.train.engine import Arrays

        return Arrays(t["x_train"], t["y_train"], t["x_test"], t["y_test"])
    return type("Arrays", (), t)


_CLASSES: dict = {}


def plain_model(kind: str):
    from torch import nn

    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
        )
    if "cnn" not in _CLASSES:  # one class for every copy (stack_module_state requires it)

        class ConvBase(nn.Module):  # MNIST-1D's small CNN
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
                self.c2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.c3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.head = nn.Linear(125, 10)

            def forward(self, x):
                h = self.c1(x.unsqueeze(-2)).relu()
                h = self.c2(h).relu()
                h = self.c3(h).relu()
                return self.head(h.flatten(-2))

        _CLASSES["cnn"] = ConvBase
    return _CLASSES["cnn"]()


def plain_train(kind: str, d, epochs: int, seed: int) -> None:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = plain_model(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    n = d.x_train.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(n // BATCH):
            idx = perm[i * BATCH : (i + 1) * BATCH]
            loss = F.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            (model(d.x_test).argmax(1) == d.y_test).float().mean()


def vmap_train(kind: str, d, k: int, epochs: int) -> None:
    """PyTorch's model-ensembling recipe (torch.func), trained: K copies' parameters stacked,
    the forward pass vmapped, one Adam over the stacked leaves, each model its own batches."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    torch.manual_seed(0)
    models = [plain_model(kind) for _ in range(k)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    opt = torch.optim.Adam(list(params.values()), lr=1e-2)
    n = d.x_train.shape[0]
    for _ in range(epochs):
        perm = torch.stack([torch.randperm(n) for _ in range(k)])  # (K, N)
        for i in range(n // BATCH):
            idx = perm[:, i * BATCH : (i + 1) * BATCH]
            logits = vmap(one)(params, buffers, d.x_train[idx])  # (K, B, 10)
            loss = F.cross_entropy(logits.flatten(0, 1), d.y_train[idx].flatten(), reduction="none")
            opt.zero_grad(set_to_none=True)
            loss.view(k, BATCH).mean(1).sum().backward()
            opt.step()
        with torch.no_grad():
            logits = vmap(one, in_dims=(0, 0, None))(params, buffers, d.x_test)
            (logits.argmax(-1) == d.y_test).float().mean(1)


def engine_train(kind: str, d, k: int, epochs: int) -> None:
    from nnclaims.nets.models import get_model
    from nnclaims.train.engine import train_classifier

    depth, width = (2, 100) if kind == "mlp" else (3, 25)
    model = get_model(kind)(list(range(k)), 40, depth, width, 10, ["relu"])
    train_classifier(model, d, epochs, BATCH, 1e-2)


def worker(job, threads, barrier, out):
    impl, kind, k = job
    if impl != "engine":
        # the loop and the ensemble as a user runs them: without the strict reproducibility
        # mode that `import nnclaims` gives MKL (it slows small unbatched matmuls by 10-20 %)
        os.environ.pop("MKL_CBWR", None)
    import torch

    torch.set_num_threads(threads)
    d = _data(engine=impl == "engine")
    train = {"plain": lambda e, m: plain_train(kind, d, e, m),
             "vmap": lambda e, m: vmap_train(kind, d, k, e),
             "engine": lambda e, m: engine_train(kind, d, k, e)}[impl]  # fmt: skip
    # warm-up (first-call costs are not throughput), timed to size the measured window
    t = time.perf_counter()
    train(1, 0)
    per_epoch = time.perf_counter() - t
    epochs = max(2, round(SECONDS / per_epoch))
    # the plain loop trains models of 10 epochs each (model set-up counts, as for a user)
    models, epochs = (max(1, round(epochs / 10)), 10) if impl == "plain" else (1, epochs)
    barrier.wait()
    t0 = time.perf_counter()
    for m in range(models):
        train(epochs, m)
    t1 = time.perf_counter()
    out.put((t0, t1, models * epochs * (1 if impl == "plain" else k)))


def measure(job, procs: int, threads: int) -> float:
    """Model-epochs per second over the whole machine."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=worker, args=(job, threads, barrier, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    wall = max(r[1] for r in res) - min(r[0] for r in res)
    return sum(r[2] for r in res) / wall


def matmul_peak(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    reps = 10
    for _ in range(reps):
        a @ b
    return 2 * 2048**3 * reps / (time.perf_counter() - t) / 1e9


TOP = (("mlp", 64), ("cnn", 32))  # the engine's K that the last line compares


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer configurations (smoke test)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    peak = matmul_peak(cores)
    _prepare_data()
    arrangements = [(1, cores), (cores, 1)] if cores > 1 else [(1, 1)]
    jobs = [("plain", "mlp", 1), ("plain", "cnn", 1)]
    ks = {"mlp": [8, 32, 64], "cnn": [8, 32]} if not args.quick else {"mlp": [64], "cnn": [32]}
    jobs += [("engine", kind, k) for kind, kk in ks.items() for k in kk]
    jobs += [("vmap", "mlp", 64), ("vmap", "cnn", 32)]
    results: dict[tuple, list[float]] = {(j, a): [] for j in jobs for a in arrangements}
    for r in range(args.repeats):  # alternate A and B so drift hits both alike
        for j in jobs:
            for a in arrangements:
                results[(j, a)].append(measure(j, *a))
        print(f"repeat {r + 1}/{args.repeats} done", flush=True)
    med = {key: statistics.median(v) for key, v in results.items()}
    best = {j: max(arrangements, key=lambda a: med[(j, a)]) for j in jobs}
    base = {kind: med[(("plain", kind, 1), best[("plain", kind, 1)])] for kind in ("mlp", "cnn")}
    print(f"\nfp32 matmul peak (2048², {cores} threads): {peak:.0f} GFLOP/s")
    hdr = (
        f"{'impl':<7}{'model':<6}{'K':>4}  {'procs×thr':<10}{'ms/model-epoch':>15}"
        f"{'model-epochs/s':>16}{'GFLOP/s':>9}{'% peak':>8}{'speedup':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    for j in jobs:
        for a in arrangements:
            v = med[(j, a)]
            gf = v * flops_per_model_epoch(j[1]) / 1e9
            mark = " *" if best[j] == a else ""
            print(
                f"{j[0]:<7}{j[1]:<6}{j[2]:>4}  {f'{a[0]}×{a[1]}':<10}{1000 / v:>15.2f}"
                f"{v:>16.1f}{gf:>9.1f}{100 * gf / peak:>7.1f}%{v / base[j[1]]:>8.2f}×{mark}"
            )
    print("(* best arrangement; speedup against the best plain loop of the same model)")
    for j in jobs:
        if j[0] != "engine" or j[2] == max(ks[j[1]]):
            p, t = best[j]
            how = "one process per core, 1 thread each" if t == 1 else f"one process, {t} threads"
            print(f"best arrangement, {j[0]} {j[1]} K={j[2]}: {how}")
    at = {kind: med[(("engine", kind, k), best[("engine", kind, k)])] for kind, k in TOP}
    ens = {kind: med[(("vmap", kind, k), best[("vmap", kind, k)])] for kind, k in TOP}
    print("(vmap: the torch.func ensemble at the same K)")
    loop = ",".join(f"{kind}:{at[kind] / base[kind]:.2f}" for kind, _ in TOP)
    vmap = ",".join(f"{kind}:{at[kind] / ens[kind]:.2f}" for kind, _ in TOP)
    print(f"speedup_vs_loop={loop} speedup_vs_vmap={vmap}")


if __name__ == "__main__":
    main()
