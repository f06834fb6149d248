"""Run one RunSpec and write its run directory: metrics.parquet (tidy), hparams.json, masks.npz.

The tidy table has one row per (seed, epoch, metric) with columns COLUMNS; `size` is the number
of hidden layers, `level` the fraction of weights remaining (1 for dense), `freq` the frequency
k of a spectral measurement (NaN elsewhere), and for spectral runs `epoch` counts full-batch steps.
"""

from __future__ import annotations

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
from . import paths, pruning, seeding
from .engine import train_classifier, train_spectral
from .hparams import RunSpec
from .io import atomic_path, write_json, write_parquet
from .models import Stacked, get_model
from .provenance import stamp

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
    "split",
    "metric",
    "value",
]
SPLITS = {"train_loss": "train", "test_loss": "test", "test_acc": "test"}


def _rows_from_history(
    spec: RunSpec, hist: dict[str, np.ndarray], seeds: list[int], level: np.ndarray, arm: list[str]
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
    return df[COLUMNS]


def _stack(
    spec: RunSpec, d_in: int, d_out: int, seeds: list[int], init_seeds: list[int] | None = None
) -> Stacked:
    return get_model(spec.model)(
        seeds,
        d_in,
        spec.depth,
        spec.width,
        d_out,
        spec.activation,
        init_scale=spec.init_scale,
        init_seeds=init_seeds,
    )


def _ckpt(ckpt_dir: Path | None, name: str) -> Path | None:
    return None if ckpt_dir is None else ckpt_dir / name


def _train(spec: RunSpec, model: Stacked, arrays, ckpt_dir: Path | None, tag: str) -> dict:
    """train_classifier with the run's settings, checkpointed under ckpt_dir/train.pt."""
    return train_classifier(
        model,
        arrays,
        spec.epochs,
        spec.batch_size,
        spec.lr,
        checkpoint=_ckpt(ckpt_dir, "train.pt"),
        tag=tag,
    )


def run_classify(spec: RunSpec, arrays, ckpt_dir: Path | None = None) -> pd.DataFrame:
    seeds = list(spec.seeds)
    model = _stack(spec, arrays.x_train.shape[1], arrays.n_classes, seeds)
    hist = _train(spec, model, arrays, ckpt_dir, "classify")
    return _rows_from_history(spec, hist, seeds, np.ones(len(seeds)), [spec.arm] * len(seeds))


def ticket(
    spec: RunSpec, d_in: int, d_out: int, seeds: list[int], masks: list[torch.Tensor] | None
) -> Stacked:
    """The models at the start of an IMP round: θ0 (the same init seeds every round) times masks."""
    model = _stack(spec, d_in, d_out, seeds)
    model.set_masks(masks)
    return model


def run_imp(spec: RunSpec, arrays, masks_out: Path, ckpt_dir: Path | None = None) -> pd.DataFrame:
    """Iterative magnitude pruning: train, prune, reset survivors to θ0, repeat (0 = dense).

    Checkpoints after every epoch and every round; a restarted run resumes where it stopped.
    """
    seeds = list(spec.seeds)
    d_in, d_out = arrays.x_train.shape[1], arrays.n_classes
    masks = [torch.ones_like(w) for w in _stack(spec, d_in, d_out, seeds).weights]
    rates = pruning.layer_rates(len(masks), spec.prune_fraction)
    done: list[dict] = []  # per finished round: its history and level
    saved: dict[str, torch.Tensor] = {}
    state = ckpt.load(_ckpt(ckpt_dir, "imp.pt"), "imp")
    if state is not None:
        masks, done, saved = list(state["masks"]), list(state["done"]), dict(state["saved"])
        log.info("resuming IMP after round %d", len(done) - 1)
    for r in range(len(done), spec.prune_rounds + 1):
        model = ticket(spec, d_in, d_out, seeds, masks)
        level = pruning.remaining_fraction(masks)
        log.info(
            "IMP round %d/%d: %.1f%% of weights remain", r, spec.prune_rounds, 100 * level.mean()
        )
        hist = _train(spec, model, arrays, ckpt_dir, f"imp-round{r}")
        done.append({"level": level, **{m: torch.as_tensor(v) for m, v in hist.items()}})
        for i, m in enumerate(masks):
            saved[f"round{r}_layer{i}"] = m.to(torch.uint8)
        masks = pruning.prune_by_magnitude(list(model.weights), masks, rates)
        if ckpt_dir is not None:
            ckpt.save(ckpt_dir / "imp.pt", "imp", {"masks": masks, "done": done, "saved": saved})
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
    with np.load(path, allow_pickle=False) as z:
        return [
            [torch.as_tensor(z[f"round{r}_layer{i}"]).float() for i in range(n_layers)]
            for r in range(1, rounds + 1)
        ]


def run_control(
    spec: RunSpec, arrays, trunk_masks: Path, ckpt_dir: Path | None = None
) -> pd.DataFrame:
    """Sparse networks trained from scratch at every IMP level at once (K = levels × seeds)."""
    pruning.get_pruner(spec.control)
    seeds = list(spec.seeds)
    d_in, d_out = arrays.x_train.shape[1], arrays.n_classes
    n_layers = spec.depth + 1
    per_round = load_masks(trunk_masks, spec.prune_rounds, n_layers)
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
    df["level"], df["split"] = 1.0, "train"
    return df[COLUMNS]


def run(
    spec: RunSpec,
    out_dir: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
    trunk_masks: str | os.PathLike | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Run `spec`, writing hparams.json, metrics.parquet (and masks.npz for IMP) into out_dir.

    Training state is checkpointed under out_dir/checkpoint/ (each epoch, each IMP round) and
    resumed from there when the run restarts after a kill; it is removed once the run finished.
    """
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / paths.RUN_CHECKPOINTS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("run %s: %s", spec.run_id, spec.non_defaults())
    if spec.kind == "spectral":
        df = run_spectral(spec)
    else:
        arrays = datamod.load_arrays(data_path)
        if spec.kind == "classify":
            df = run_classify(spec, arrays, ckpt_dir)
        elif spec.kind == "imp":
            df = run_imp(spec, arrays, out_dir / paths.RUN_MASKS, ckpt_dir)
        else:
            if trunk_masks is None:
                raise ValueError(
                    f"control run {spec.run_id} needs the masks of IMP run {spec.trunk}"
                )
            df = run_control(spec, arrays, Path(trunk_masks), ckpt_dir)
    wall = time.perf_counter() - t0
    write_json(
        {
            "run_id": spec.run_id,
            "hparams": spec.to_dict(),
            "wall_seconds": round(wall, 2),
            "threads": threads,
            "determinism": "torch.use_deterministic_algorithms(True), CPU",
            "provenance": stamp(),
        },
        out_dir / paths.RUN_HPARAMS,
    )
    write_parquet(df, out_dir / paths.RUN_METRICS)  # last: its presence means the run finished
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    log.info("run %s done in %.1fs: %d rows", spec.run_id, wall, len(df))
    return df
