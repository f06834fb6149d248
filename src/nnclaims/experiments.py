"""Run one RunSpec and write its run directory: metrics.parquet (tidy), hparams.json, masks.npz.

The tidy table has one row per (seed, epoch, metric) with columns COLUMNS; `size` is the number
of hidden layers, `level` the fraction of weights remaining (1 for dense), `freq` the frequency
k of a spectral measurement (NaN elsewhere), `lr` the learning rate the row was trained with,
and for spectral runs `epoch` counts full-batch steps. A run with an lr grid also has rows with
split "val" and metric "val_acc": each candidate lr's final accuracy on the validation split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import checkpoint as ckpt
from . import data as datamod
from . import io, paths, pruning, seeding, vision
from . import replicates as replicate_store
from .engine import Arrays, resolve_device, train_classifier, train_spectral
from .hparams import RunSpec, batch_key
from .io import atomic_path, write_json, write_parquet
from .models import Stacked, get_model
from .provenance import git_state, stamp

log = logging.getLogger(__name__)

COLUMNS = [
    "dataset",
    "model",
    "arm",
    "size",
    "level",
    "freq",
    "seed",
    "epoch",
    "lr",
    "split",
    "metric",
    "value",
]
SPLITS = {"train_loss": "train", "test_loss": "test", "test_acc": "test"}


def _rows_from_history(
    spec: RunSpec,
    hist: dict[str, np.ndarray],
    seeds: list[int],
    level: np.ndarray,
    arm: list[str],
    lr: float | None = None,
) -> pd.DataFrame:
    """hist arrays (E, K) → long rows for K models with their seeds, levels and arm labels."""
    frames = []
    epochs, k = hist["test_acc"].shape
    for metric, split in SPLITS.items():
        v = hist[metric]
        frames.append(
            pd.DataFrame(
                {
                    "arm": np.tile(arm, epochs),
                    "level": np.tile(level, epochs),
                    "seed": np.tile(seeds, epochs),
                    "epoch": np.repeat(np.arange(1, epochs + 1), k),
                    "split": split,
                    "metric": metric,
                    "value": v.reshape(-1),
                }
            )
        )
    frames.append(
        pd.DataFrame(
            {
                "arm": arm,
                "level": level,
                "seed": seeds,
                "epoch": epochs,
                "split": "train",
                "metric": "diverged_epoch",
                "value": hist["diverged_epoch"].astype(float),
            }
        )
    )
    df = pd.concat(frames, ignore_index=True)
    df["dataset"], df["model"], df["size"], df["freq"] = (
        spec.dataset,
        spec.model,
        spec.depth,
        np.nan,
    )
    df["lr"] = spec.lr if lr is None else lr
    return df[COLUMNS]


def _stack(
    spec: RunSpec, d_in, d_out: int, seeds: list[int], init_seeds: list[int] | None = None
) -> Stacked:
    """The run's K models; d_in is an int for the MLP/CNN stacks, an example's shape for images."""
    if spec.model in vision.IMAGE_MODELS:
        shape = tuple(d_in) if isinstance(d_in, (tuple, list, torch.Size)) else (1, d_in)
        if init_seeds is None:
            init_seeds = [seeding.derive_seed(s, "init") for s in seeds]
        return vision.ModuleStack(
            seeds,
            init_seeds,
            lambda: vision.build(
                spec.model, spec.depth, spec.activation, spec.layer_acts, shape, d_out
            ),
        )
    return get_model(spec.model)(
        seeds,
        d_in,
        spec.depth,
        spec.width,
        d_out,
        spec.activation,
        init_scale=spec.init_scale,
        init_seeds=init_seeds,
        layer_acts=spec.layer_acts,
    )


def _d_in(arrays):
    """Input size for the MLP/CNN stacks, one example's shape for the image models."""
    x = arrays.x_train
    return x.shape[1] if x.dim() == 2 else tuple(x.shape[1:])


def _ckpt(ckpt_dir: Path | None, name: str) -> Path | None:
    return None if ckpt_dir is None else ckpt_dir / name


def _train(
    spec: RunSpec,
    model: Stacked,
    arrays,
    ckpt_dir: Path | None,
    tag: str,
    on_epoch=None,
    lr: float | list[float] | None = None,
) -> dict:
    """train_classifier with the run's settings (lr: the run's, or one per model), checkpointed
    under ckpt_dir/train.pt."""
    return train_classifier(
        model,
        arrays,
        spec.epochs,
        spec.batch_size,
        spec.lr if lr is None else lr,
        on_epoch=on_epoch,
        checkpoint=_ckpt(ckpt_dir, "train.pt"),
        tag=tag,
        optimizer=spec.optimizer,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        augment=spec.augment,
        device=DEVICE,
    )


DEVICE = torch.device("cpu")  # set by run() from the config's `device`


def validation_split(arrays, fraction: float):
    """(train part, validation part) of the training set, by one fixed permutation (the same for
    every arm and seed, so candidates are compared on the same examples); test is untouched."""
    n = arrays.x_train.shape[0]
    n_val = int(round(n * fraction))
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction {fraction} leaves no validation or no training examples")
    perm = torch.randperm(n, generator=seeding.generator(0, "split"))
    tr, va = perm[n_val:], perm[:n_val]
    return Arrays(arrays.x_train[tr], arrays.y_train[tr], arrays.x_train[va], arrays.y_train[va])


def _arm_stack(specs: list[RunSpec], d_in, d_out: int, seeds_per_spec: list[list[int]]):
    """One stack for several arms of the same shape: each arm's models get its activation."""
    seeds = [x for ss in seeds_per_spec for x in ss]
    acts = [list(sp.activation) for sp, ss in zip(specs, seeds_per_spec) for _ in ss]
    if len(specs) == 1:
        return _stack(specs[0], d_in, d_out, seeds)
    return _stack(
        dataclasses.replace(specs[0], activation=tuple(map(tuple, acts))), d_in, d_out, seeds
    )


def _train_lrs(spec: RunSpec, model, arrays, lrs, ckpt_dir, tag) -> dict:
    """Training with one lr per model (StackedAdam), so a model's numbers do not depend on
    which other arms share its stack (tested bitwise)."""
    return _train(spec, model, arrays, ckpt_dir, tag, lr=list(lrs))


def tune_seeds(spec: RunSpec) -> list[int]:
    """The seeds of an lr or set search: 0 .. tune_seeds − 1, whatever seeds the run has, so
    that a run with more seeds reuses its search."""
    return list(range(spec.tune_seeds))


def tune_lrs(specs: list[RunSpec], arrays, ckpt_dir: Path | None) -> list[pd.DataFrame]:
    """For each arm: every lr of its grid × tune_seeds models, all arms in one stack (one lr per
    model), trained on the training part and scored on the validation part. Returns each arm's
    val_acc rows (final validation accuracy per candidate lr and seed; NaN where it diverged)."""
    grid = list(specs[0].lr_grid)
    seeds = tune_seeds(specs[0])
    run_seeds = seeds * len(grid)
    lrs = [lr for lr in grid for _ in seeds]
    state = ckpt.load(_ckpt(ckpt_dir, "tune.pt"), "tune")
    if state is not None:
        final = state["value"].numpy()
    else:
        split = validation_split(arrays, specs[0].val_fraction)
        model = _arm_stack(specs, _d_in(arrays), arrays.n_classes, [run_seeds] * len(specs))
        hist = _train_lrs(specs[0], model, split, lrs * len(specs), ckpt_dir, "tune")
        final = hist["test_acc"][-1]  # accuracy on the validation part
        final = np.where(hist["diverged_epoch"] > 0, np.nan, final)
        if ckpt_dir is not None:
            ckpt.save(ckpt_dir / "tune.pt", "tune", {"value": torch.as_tensor(final)})
            ckpt.clear(ckpt_dir / "train.pt")
    n = len(run_seeds)
    return [
        _val_rows(spec, run_seeds, lrs, final[i * n : (i + 1) * n]) for i, spec in enumerate(specs)
    ]


def pick_lr(spec: RunSpec, val: pd.DataFrame, chance: float) -> float:
    """The lr with the best search score on the validation split (the smaller on a tie)."""
    grid = sorted(spec.lr_grid)
    score = {lr: search_score(val[val["lr"] == lr]["value"].to_numpy(), chance) for lr in grid}
    best = max(grid, key=lambda lr: score[lr])  # max keeps the first (smaller) on ties
    log.info("%s lr search %s: best %g", spec.arm, {k: round(v, 2) for k, v in score.items()}, best)
    return best


def search_score(val_acc: np.ndarray, chance: float) -> float:
    """A candidate's score in the lr and set searches: mean validation accuracy over its seeds,
    a diverged seed (NaN) counted as a failure at chance accuracy, so that a candidate cannot
    win on its one surviving seed."""
    return float(np.mean(np.where(np.isnan(val_acc), chance, val_acc)))


def train_arms(
    specs: list[RunSpec],
    arrays,
    ckpt_dir: Path | None = None,
    seeds_per_spec: list[list[int]] | None = None,
    searched: list[pd.DataFrame | None] | None = None,
) -> list[pd.DataFrame]:
    """Classification runs that differ only in their activation, trained as one stack: the lr
    search (when they have a grid; `searched` gives an arm's stored search instead), then the
    seeds of every arm (`seeds_per_spec`, default the run's) at its chosen lr. Each run's rows
    equal those of the run trained alone, bit for bit."""
    base = specs[0]
    for sp in specs[1:]:
        if batch_key(sp) != batch_key(base):
            raise ValueError(f"Runs {base.run_id} and {sp.run_id} differ in more than the arm")
    seeds_per_spec = seeds_per_spec or [list(sp.seeds) for sp in specs]
    tuned: list[pd.DataFrame | None] = list(searched or [None] * len(specs))
    lrs = [base.lr] * len(specs)
    if base.lr_grid:
        todo = [i for i, t in enumerate(tuned) if t is None]
        if todo:
            for i, f in zip(todo, tune_lrs([specs[i] for i in todo], arrays, ckpt_dir)):
                tuned[i] = f
        chance = 100.0 / arrays.n_classes
        lrs = [pick_lr(sp, t, chance) for sp, t in zip(specs, tuned)]
    keep = [i for i, ss in enumerate(seeds_per_spec) if ss]
    out = [
        tuned[i] if tuned[i] is not None else pd.DataFrame(columns=COLUMNS)
        for i in range(len(specs))
    ]
    if not keep:
        return out
    trained = [specs[i] for i in keep]
    seeds = [seeds_per_spec[i] for i in keep]
    model = _arm_stack(trained, _d_in(arrays), arrays.n_classes, seeds)
    per_model_lr = [lrs[i] for i, ss in zip(keep, seeds) for _ in ss]
    if len(set(per_model_lr)) == 1:  # one rate: the only form SGD (image models) takes
        hist = _train(base, model, arrays, ckpt_dir, "classify", lr=per_model_lr[0])
    else:
        hist = _train_lrs(base, model, arrays, per_model_lr, ckpt_dir, "classify")
    a = 0
    for i, ss in zip(keep, seeds):
        k = len(ss)
        h = {m: (v[:, a : a + k] if v.ndim == 2 else v[a : a + k]) for m, v in hist.items()}
        a += k
        df = _rows_from_history(specs[i], h, ss, np.ones(k), [specs[i].arm] * k, lr=lrs[i])
        out[i] = df if tuned[i] is None else pd.concat([tuned[i], df], ignore_index=True)
    return out


def _val_rows(spec: RunSpec, seeds, lrs, values) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": spec.dataset,
            "model": spec.model,
            "arm": spec.arm,
            "size": spec.depth,
            "level": 1.0,
            "freq": np.nan,
            "seed": list(seeds),
            "epoch": spec.epochs,
            "lr": list(lrs),
            "split": "val",
            "metric": "val_acc",
            "value": np.asarray(values, dtype=float),
        }
    )[COLUMNS]


def run_classify(spec: RunSpec, arrays, ckpt_dir: Path | None = None) -> pd.DataFrame:
    return train_arms([spec], arrays, ckpt_dir)[0]


def candidate_sets(spec: RunSpec) -> list[tuple[str, ...]]:
    """`candidates` distinct random per-layer sets (one function per hidden layer of the small
    network) from `pool`, the same for every dataset and seed (the thesis's random search)."""
    rng = np.random.default_rng(seeding.derive_seed(0, "search"))
    n_possible = len(set(spec.pool)) ** spec.depth
    if spec.candidates > n_possible:
        raise ValueError(f"{spec.candidates} candidates, but the pool makes only {n_possible} sets")
    out: list[tuple[str, ...]] = []
    while len(out) < spec.candidates:
        c = tuple(str(x) for x in rng.choice(spec.pool, size=spec.depth))
        if c not in out:
            out.append(c)
    return out


def set_name(s: tuple[str, ...]) -> str:
    return "+".join(s)


def run_search(
    spec: RunSpec, arrays, ckpt_dir: Path | None = None, searched: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per-layer set search as in Schweickert (2022): random sets on the small network, scored by
    validation accuracy (mean over tune_seeds), the `keep` best trained with every seed on the
    full training set at the small and the large size (each function then serves
    large/small layers). Rows: candidates as val_acc (arm "cand:<f1+f2>"), the kept sets as
    arms best_set1.. (with a val_acc row naming their functions via arm "cand:...").
    `searched`: the candidates' rows of an earlier run of this setup, reused as they are."""
    cands = candidate_sets(spec)
    tseeds = tune_seeds(spec)
    d_in, d_out = _d_in(arrays), arrays.n_classes
    state = ckpt.load(_ckpt(ckpt_dir, "search.pt"), "search")
    if searched is not None:
        final = np.concatenate(
            [
                searched[searched["arm"] == f"cand:{set_name(c)}"].sort_values("seed")["value"]
                for c in cands
            ]
        )
    elif state is None:
        run_seeds = tseeds * len(cands)
        sets = [c for c in cands for _ in tseeds]
        model = _stack(dataclasses.replace(spec, layer_acts=tuple(sets)), d_in, d_out, run_seeds)
        hist = _train(spec, model, validation_split(arrays, spec.val_fraction), ckpt_dir, "search")
        final = np.where(hist["diverged_epoch"] > 0, np.nan, hist["test_acc"][-1])
        if ckpt_dir is not None:
            ckpt.save(ckpt_dir / "search.pt", "search", {"final": torch.as_tensor(final)})
            ckpt.clear(ckpt_dir / "train.pt")
    else:
        final = state["final"].numpy()
    chance = 100.0 / arrays.n_classes
    nt = len(tseeds)
    scores = [search_score(final[i * nt : (i + 1) * nt], chance) for i in range(len(cands))]
    ranked = sorted(range(len(cands)), key=lambda i: -scores[i])  # stable: ties keep draw order
    best = [cands[i] for i in ranked[: spec.keep]]
    log.info("set search: %s", {set_name(c): round(float(x), 2) for c, x in zip(cands, scores)})
    frames = [
        _val_rows(
            dataclasses.replace(spec, arm=f"cand:{set_name(c)}"),
            tseeds,
            [spec.lr] * len(tseeds),
            final[i * len(tseeds) : (i + 1) * len(tseeds)],
        )
        for i, c in enumerate(cands)
    ]
    seeds = list(spec.seeds)
    for depth in (spec.depth, spec.large_depth):
        sized = dataclasses.replace(
            spec, depth=depth, layer_acts=tuple(b for b in best for _ in seeds)
        )
        model = _stack(sized, d_in, d_out, seeds * len(best))
        hist = _train(sized, model, arrays, ckpt_dir, f"final-d{depth}")
        arms = [f"best_set{r + 1}" for r in range(len(best)) for _ in seeds]
        frames.append(_rows_from_history(sized, hist, seeds * len(best), np.ones(len(arms)), arms))
    return pd.concat(frames, ignore_index=True)


def ticket(
    spec: RunSpec,
    d_in: int,
    d_out: int,
    seeds: list[int],
    masks: list[torch.Tensor] | None,
    rewind: dict | None = None,
) -> Stacked:
    """The models at the start of an IMP round: θ0 (the same init seeds every round), or the
    weights at the rewind epoch of the dense training when given, times masks."""
    model = _stack(spec, d_in, d_out, seeds)
    if rewind is not None:
        model.load_state_dict(rewind)
    model.set_masks(masks)
    return model


def run_imp(spec: RunSpec, arrays, masks_out: Path, ckpt_dir: Path | None = None) -> pd.DataFrame:
    """Iterative magnitude pruning: train, prune, reset survivors to θ0, repeat (0 = dense).

    Checkpoints after every epoch and every round; a restarted run resumes where it stopped.
    """
    seeds = list(spec.seeds)
    d_in, d_out = _d_in(arrays), arrays.n_classes
    weights0 = _stack(spec, d_in, d_out, seeds).weights
    masks = [torch.ones_like(w) for w in weights0]
    rates = pruning.rates_for(weights0, spec.prune_fraction, spec.conv_prune_fraction)
    done: list[dict] = []  # per finished round: its history and level
    saved: dict[str, torch.Tensor] = {}
    state = ckpt.load(_ckpt(ckpt_dir, "imp.pt"), "imp")
    if state is not None:
        masks, done, saved = list(state["masks"]), list(state["done"]), dict(state["saved"])
        ckpt.restore_rng(state)  # the next round's dropout continues the same stream
        log.info("resuming IMP after round %d", len(done) - 1)
    # rewinding (Frankle et al. 2020, not the 2019 paper): reset to the weights after epoch k
    rewind = ckpt.load(_ckpt(ckpt_dir, "rewind.pt"), "rewind") if spec.rewind_epoch else None
    rewind = None if rewind is None else rewind["model"]

    def keep_rewind(epoch: int, _row: dict, model=None) -> None:
        nonlocal rewind
        if epoch == spec.rewind_epoch:
            rewind = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if ckpt_dir is not None:
                ckpt.save(ckpt_dir / "rewind.pt", "rewind", {"model": rewind})

    for r in range(len(done), spec.prune_rounds + 1):
        model = ticket(spec, d_in, d_out, seeds, masks, rewind if r > 0 else None)
        level = pruning.remaining_fraction(masks)
        log.info(
            "IMP round %d/%d: %.1f%% of weights remain", r, spec.prune_rounds, 100 * level.mean()
        )
        hook = None
        if r == 0 and spec.rewind_epoch:
            hook = lambda e, row, m=model: keep_rewind(e, row, m)  # noqa: E731
        hist = _train(spec, model, arrays, ckpt_dir, f"imp-round{r}", on_epoch=hook)
        if r == 0 and spec.rewind_epoch and rewind is None:
            raise ValueError(f"rewind epoch {spec.rewind_epoch} is past the {spec.epochs} epochs")
        done.append({"level": level, **{m: torch.as_tensor(v) for m, v in hist.items()}})
        for i, m in enumerate(masks):
            saved[f"round{r}_layer{i}"] = m.to(torch.uint8)
        masks = pruning.prune_by_magnitude([w.cpu() for w in model.weights], masks, rates)
        if ckpt_dir is not None:
            ckpt.save(
                ckpt_dir / "imp.pt",
                "imp",
                {"masks": masks, "done": done, "saved": saved, **ckpt.rng_states()},
            )
            ckpt.clear(ckpt_dir / "train.pt")
    with atomic_path(masks_out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: v.numpy() for k, v in saved.items()})
    frames = []
    for r, d in enumerate(done):
        hist = {m: v.numpy() for m, v in d.items() if m != "level"}
        arm = "dense" if r == 0 else "imp"
        frames.append(_rows_from_history(spec, hist, seeds, d["level"].numpy(), [arm] * len(seeds)))
    return pd.concat(frames, ignore_index=True)


def load_masks(path: Path, rounds: int, n_layers: int) -> list[list[torch.Tensor]]:
    """Masks per round (1..rounds) per layer from an IMP run's masks.npz."""
    z = io.read_npz(path)
    missing = [f"round{r}_layer{i}" for r in range(1, rounds + 1) for i in range(n_layers)]
    missing = [k for k in missing if k not in z]
    if missing:
        raise io.DamagedFile(f"{path} lacks masks {missing[:3]}: delete it and rerun its IMP run")
    return [
        [torch.as_tensor(z[f"round{r}_layer{i}"]).float() for i in range(n_layers)]
        for r in range(1, rounds + 1)
    ]


def run_control(
    spec: RunSpec,
    arrays,
    trunk_masks: Path,
    ckpt_dir: Path | None = None,
    mask_seeds: list[int] | None = None,
) -> pd.DataFrame:
    """Sparse networks trained from scratch at every IMP level at once (K = levels × seeds).
    `mask_seeds`: the seeds of the trunk's masks file, in its order (default: the run's)."""
    pruning.get_pruner(spec.control)
    seeds = list(spec.seeds)
    d_in, d_out = _d_in(arrays), arrays.n_classes
    n_layers = len(_stack(spec, d_in, d_out, seeds[:1]).weights)
    per_round = load_masks(trunk_masks, spec.prune_rounds, n_layers)
    if mask_seeds is not None:  # the trunk's masks of this run's seeds only
        pick = torch.tensor([list(mask_seeds).index(s) for s in seeds])
        per_round = [[m.index_select(0, pick) for m in rm] for rm in per_round]
    run_seeds, init_seeds, masks = [], [], [[] for _ in range(n_layers)]
    for r, round_masks in enumerate(per_round, start=1):
        run_seeds += seeds
        init_seeds += [seeding.derive_seed(s, "reinit", r) for s in seeds]
        if spec.control == "random":
            round_masks = pruning.random_masks_like(
                round_masks, [seeding.derive_seed(s, "mask", r) for s in seeds]
            )
        for i in range(n_layers):
            masks[i].append(round_masks[i])
    masks = [torch.cat(m) for m in masks]
    model = _stack(spec, d_in, d_out, run_seeds, init_seeds=init_seeds)
    model.set_masks(masks)
    level = pruning.remaining_fraction(masks).numpy()
    hist = _train(spec, model, arrays, ckpt_dir, "control")
    return _rows_from_history(spec, hist, run_seeds, level, [spec.control] * len(run_seeds))


def run_spectral(spec: RunSpec) -> pd.DataFrame:
    seeds = list(spec.seeds)
    freqs = np.asarray(spec.freqs, dtype=float)
    amps = np.asarray(spec.amplitudes or [1.0] * len(freqs), dtype=float)
    if len(amps) != len(freqs):
        raise ValueError(f"{len(amps)} amplitudes for {len(freqs)} frequencies")
    model = _stack(spec, 1, 1, seeds)
    out = train_spectral(model, freqs, amps, spec.n_points, spec.epochs, spec.lr, spec.eval_every)
    steps, ratio, mse = out["step"], out["ratio"], out["mse"]  # (E,), (E, K, F), (E, K)
    e, k, f = ratio.shape
    df_r = pd.DataFrame(
        {
            "seed": np.tile(np.repeat(seeds, f), e),
            "epoch": np.repeat(steps, k * f),
            "freq": np.tile(freqs, e * k),
            "metric": "dft_ratio",
            "value": ratio.reshape(-1),
        }
    )
    df_m = pd.DataFrame(
        {
            "seed": np.tile(seeds, e),
            "epoch": np.repeat(steps, k),
            "freq": np.nan,
            "metric": "mse",
            "value": mse.reshape(-1),
        }
    )
    df = pd.concat([df_r, df_m], ignore_index=True)
    df["dataset"], df["model"], df["arm"], df["size"] = "sines", spec.model, spec.arm, spec.depth
    df["level"], df["split"], df["lr"] = 1.0, "train", spec.lr
    return df[COLUMNS]


def _deterministic() -> None:
    """torch.use_deterministic_algorithms(True) without its import of torch._inductor (1 s of
    every job's start-up here): that import only sets inductor's flag, and nothing here compiles."""
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # a torch without the private setter: the public call
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True)


def _setup(spec: RunSpec, threads: int, device: str) -> None:
    global DEVICE
    DEVICE = resolve_device(device)
    torch.set_num_threads(threads)
    if DEVICE.type == "cpu":
        _deterministic()
    else:  # cuDNN's deterministic kernels where they exist; some ops have none
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seeding.derive_seed(spec.seeds[0], "dropout"))


def _file_sha256(path) -> str | None:
    if path is None or not Path(path).exists():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _finish(
    spec: RunSpec,
    out_dir: Path,
    df: pd.DataFrame,
    wall: float,
    threads: int,
    extra=None,
    data_path=None,
):
    trained = df[df["split"] != "val"]
    write_json(
        {
            "run_id": spec.run_id,
            "hparams": spec.to_dict(),
            # what was measured, not what the config intended: the rates the models trained at
            "lr_used": sorted({float(x) for x in trained["lr"].unique()}),
            "data_sha256": _file_sha256(data_path),
            "wall_seconds": round(wall, 2),
            "threads": threads,
            "device": str(DEVICE),
            "determinism": "torch.use_deterministic_algorithms(True), CPU"
            if DEVICE.type == "cpu"
            else "deterministic algorithms where CUDA has them (warn_only)",
            "provenance": stamp(),
            **(extra or {}),
        },
        out_dir / paths.RUN_HPARAMS,
    )
    write_parquet(df, out_dir / paths.RUN_METRICS)  # last: its presence means the run finished
    log.info("run %s done: %d rows", spec.run_id, len(df))


def _train_seeds(
    spec: RunSpec, out_dir: Path, ckpt_dir: Path, data_path, trunk_masks, store, mask_seeds
):
    """Train `spec` (its seeds: only those the store lacks) and return (rows, IMP masks);
    `mask_seeds`: the seeds of the IMP trunk's masks file, for a control."""
    if spec.kind == "spectral":
        return run_spectral(spec), None
    arrays = datamod.load_arrays(data_path)
    searched = None if store is None else store.search()
    if spec.kind == "classify":
        return train_arms([spec], arrays, ckpt_dir, searched=[searched])[0], None
    if spec.kind == "search":
        return run_search(spec, arrays, ckpt_dir, searched=searched), None
    if spec.kind == "imp":
        masks_file = ckpt_dir / "masks.npz" if store is not None else out_dir / paths.RUN_MASKS
        df = run_imp(spec, arrays, masks_file, ckpt_dir)
        return df, io.read_npz(masks_file)
    if trunk_masks is None:
        raise ValueError(f"control run {spec.run_id} needs the masks of IMP run {spec.trunk}")
    return run_control(spec, arrays, Path(trunk_masks), ckpt_dir, mask_seeds), None


def _seed_meta(run_id: str, data_path) -> dict:
    return {"trained_in": run_id, "git": git_state(), "data_sha256": _file_sha256(data_path)}


def _assemble(spec: RunSpec, store, out_dir: Path) -> pd.DataFrame:
    """A run's rows (and IMP masks) from its setup's stored seeds."""
    searched = store.search()
    df = store.rows(spec.seeds)
    if searched is not None:
        df = pd.concat([searched, df], ignore_index=True)
    if spec.kind == "imp":
        with atomic_path(out_dir / paths.RUN_MASKS) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **store.masks(spec.seeds))
    return df[COLUMNS]


def _store(spec: RunSpec, replicates):
    if replicates is None or not replicate_store.reusable(spec):
        return None
    return replicate_store.Store(replicates, spec)


def _keep(store, run_id: str, seeds: list[int], df: pd.DataFrame, masks, data_path) -> None:
    """Store the seeds run `run_id` just trained (and the setup's search, once)."""
    val = df["split"] == "val"
    if val.any() and store.search() is None:
        store.save_search(df[val])
    store.save(df[~val], seeds, _seed_meta(run_id, data_path), masks)


def run(
    spec: RunSpec,
    out_dir: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
    trunk_masks: str | os.PathLike | None = None,
    threads: int = 1,
    device: str = "cpu",
    replicates: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Run `spec`, writing hparams.json, metrics.parquet (and masks.npz for IMP) into out_dir.

    Training state is checkpointed under out_dir/checkpoint/ (each epoch, each IMP round) and
    resumed from there when the run restarts after a kill; it is removed once the run finished.
    With `replicates` (a directory), seeds this setup already trained are reused from there and
    only the missing ones train (replicates.py)."""
    _setup(spec, threads, device)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / paths.RUN_CHECKPOINTS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("run %s: %s", spec.run_id, spec.non_defaults())
    store = _store(spec, replicates)
    todo = list(spec.seeds) if store is None else store.missing(spec.seeds)
    if store is not None:
        log.info("seeds reused: %s; to train: %s", sorted(set(spec.seeds) - set(todo)), todo)
    df = None
    if todo:
        sub = dataclasses.replace(spec, seeds=tuple(todo))
        df, masks = _train_seeds(
            sub, out_dir, ckpt_dir, data_path, trunk_masks, store, list(spec.seeds)
        )
        if store is not None:
            _keep(store, spec.run_id, todo, df, masks, data_path)
    if store is not None:
        df = _assemble(spec, store, out_dir)
    extra = {} if store is None else {"replicates": store.meta(spec.seeds)}
    _finish(spec, out_dir, df, time.perf_counter() - t0, threads, extra, data_path=data_path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return df


def run_batch(
    specs: list[RunSpec],
    out_dirs: list[str | os.PathLike],
    data_path: str | os.PathLike,
    ckpt_dir: str | os.PathLike,
    threads: int = 1,
    device: str = "cpu",
    replicates: str | os.PathLike | None = None,
) -> list[pd.DataFrame]:
    """Several classification runs that differ only in their arm, trained as one stack (one
    process, one lr search); each run's directory is written as if it had run alone, and its
    numbers are the same (a test checks this bitwise). hparams.json names the batch. With
    `replicates`, only seeds not trained before train (see run)."""
    _setup(specs[0], threads, device)
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("batch of %d runs: %s", len(specs), ", ".join(f"{s.run_id} ({s.arm})" for s in specs))
    stores = [_store(sp, replicates) for sp in specs]
    todo = [list(sp.seeds) if st is None else st.missing(sp.seeds) for sp, st in zip(specs, stores)]
    searched = [None if st is None else st.search() for st in stores]
    need = [i for i, t in enumerate(todo) if t or (specs[i].lr_grid and searched[i] is None)]
    dfs: list[pd.DataFrame | None] = [None] * len(specs)
    if need:
        trained = train_arms(
            [specs[i] for i in need],
            datamod.load_arrays(data_path),
            ckpt_dir,
            seeds_per_spec=[todo[i] for i in need],
            searched=[searched[i] for i in need],
        )
        for i, df in zip(need, trained):
            dfs[i] = df
            if stores[i] is not None:
                _keep(stores[i], specs[i].run_id, todo[i], df, None, data_path)
    wall = time.perf_counter() - t0
    batch = [s.run_id for s in specs]
    for i, (spec, out) in enumerate(zip(specs, out_dirs)):
        Path(out).mkdir(parents=True, exist_ok=True)
        if stores[i] is not None:
            dfs[i] = _assemble(spec, stores[i], Path(out))
        extra = {"trained_with": batch}
        if stores[i] is not None:
            extra["replicates"] = stores[i].meta(spec.seeds)
        _finish(spec, Path(out), dfs[i], wall / len(specs), threads, extra, data_path=data_path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return dfs
