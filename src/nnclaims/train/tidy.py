"""The tidy table, in one place: its columns and every way rows are made.

One row per (seed, epoch, metric) with columns COLUMNS; `size` is the number of hidden layers,
`level` the fraction of weights remaining (1 for dense), `freq` the frequency k of a spectral
measurement (NaN elsewhere), `lr` the learning rate the row was trained with, and for spectral
runs `epoch` counts full-batch steps. A run with an lr grid also has rows with split "val" and
metric "val_acc": each candidate lr's final accuracy on the validation split. A run that holds
out a validation part (IMP and its controls) has split "val" rows of metric "val_loss" per epoch:
the early-stopping signal, and at the last epoch metric "weights_kept": the count of prunable
weights left. A width sweep (kinds.widths) adds, at its last epoch, metrics
"fit_loss" and "fit_acc": each final model on its whole training set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnclaims.core.hparams import RunSpec

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
SPLITS = {"train_loss": "train", "test_loss": "test", "test_acc": "test", "val_loss": "val"}


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def from_history(
    spec: RunSpec,
    hist: dict[str, np.ndarray],
    seeds: list[int],
    level: np.ndarray,
    arm: list[str],
    lr: float | None = None,
    kept: np.ndarray | None = None,
) -> pd.DataFrame:
    """A classifier's history (arrays (E, K)) → long rows for K models with their seeds, levels
    and arm labels, plus each model's diverged epoch (0: never) and, for a pruned run, its
    count of prunable weights left (`kept`, metric weights_kept)."""
    frames = []
    epochs, k = hist["test_acc"].shape
    for metric, split in SPLITS.items():
        if metric not in hist:
            continue  # val_loss: only runs with a validation part
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
    if kept is not None:
        frames.append(frames[-1].assign(metric="weights_kept", value=np.asarray(kept, float)))
    df = pd.concat(frames, ignore_index=True)
    df["dataset"], df["model"], df["size"], df["freq"] = (
        spec.dataset,
        spec.model,
        spec.depth,
        np.nan,
    )
    df["lr"] = spec.lr if lr is None else lr
    return df[COLUMNS]


def val_rows(spec: RunSpec, seeds, lrs, values) -> pd.DataFrame:
    """A search's candidates: final accuracy on the validation split, per seed and lr."""
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


def spectral_rows(spec: RunSpec, seeds: list[int], freqs: np.ndarray, out: dict) -> pd.DataFrame:
    """The spectral probe's |DFT| / A_k per step, frequency and phase draw, and its MSE."""
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
