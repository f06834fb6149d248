"""Which numbers a hypothesis compares: per-seed selections from a claim's tidy table (an arm
at a size, an IMP level, an epoch or the end metric, a frequency band), and per-group summaries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# % accuracy of guessing (10 balanced classes); a diverged model scores this
CHANCE = {
    "mnist1d": 10.0,
    "digits": 10.0,
    "mnist": 10.0,
    "fashion_mnist": 10.0,
    "cifar10": 10.0,
    "cifar100": 1.0,
}
SPECTRAL = "sines"  # the spectral probe's pseudo-dataset
# The end metric of a run: test accuracy averaged over its last END_WINDOW epochs (per seed).
# In the overfit regime (MNIST-1D test loss climbs from ~1.05 at epoch 8 to 2.3-3.0 at 50) the
# last epoch's accuracy swings by points from tiny perturbations; a 10-epoch mean is stable.
# The last-epoch number is kept beside it in the report.
END_WINDOW = 10
END_METRICS = ("test_acc",)
# A dense model whose final test accuracy lies within this many points of chance, or whose
# training loss never fell below its first epoch's, did not train: it is flagged and counted as
# a diverged one is (pruned models near chance at extreme sparsity are the measurement itself).
UNTRAINED_MARGIN = 5.0


def untrained(df: pd.DataFrame) -> pd.DataFrame:
    """The dense models (level 1) that did not train and did not diverge: one row per dataset,
    arm, size and seed with its final test accuracy (`final`) and `why`."""
    keys = ["dataset", "arm", "size", "seed"]
    dense = df[np.isclose(df["level"].astype(float), 1.0)]
    if "split" in dense:
        dense = dense[dense["split"] != "val"]
    acc = dense[dense["metric"] == "test_acc"]
    if acc.empty:
        return pd.DataFrame(columns=[*keys, "final", "why"])
    last = acc.loc[acc.groupby(keys)["epoch"].idxmax()].set_index(keys)["value"]
    loss = dense[dense["metric"] == "train_loss"].sort_values("epoch")
    first = loss.groupby(keys)["value"].first()
    fell = (loss.groupby(keys)["value"].min() < first).reindex(last.index, fill_value=True)
    chance = last.index.get_level_values("dataset").map(lambda d: CHANCE.get(d, np.nan))
    near = np.asarray(last <= chance + UNTRAINED_MARGIN)
    out = pd.DataFrame({"final": last, "near": near, "fell": fell}).reset_index()
    out = out[np.isfinite(out["final"]) & (out["near"] | ~out["fell"])]
    out["why"] = np.where(out["near"], "near chance", "loss never fell")
    return out[[*keys, "final", "why"]].reset_index(drop=True)


def _pick(values: np.ndarray, how: Any) -> float:
    vals = np.sort(np.unique(values))
    if how == "min":
        return float(vals[0])
    if how == "max":
        return float(vals[-1])
    return float(how)


def _nearest(values: np.ndarray, target: float) -> float:
    vals = np.unique(values)
    return float(vals[np.argmin(np.abs(vals - target))])


def select(
    df: pd.DataFrame,
    metric: str,
    arm: str,
    size: Any = None,
    level: Any = None,
    epoch: Any = None,
    dataset: str | None = None,
    freq: str | None = None,
    loss: float | None = None,
    levels: list[float] | None = None,
    kept: int | None = None,
) -> pd.Series:
    """Per-seed values (index: seed) of one metric for one arm, at the chosen size/level/epoch.

    epoch: "end" (mean over the last END_WINDOW epochs: the default for END_METRICS), "last"
    (the default for other metrics), "early" (each seed's epoch of lowest validation loss: the
    early-stopping iteration of Frankle & Carbin; runs with early_stop_val only), an epoch
    (step) number, or a fraction of the run in (0, 1) (the nearest recorded one). kept: the IMP
    level whose count of prunable weights left is nearest this number (instead of `level`, a
    fraction: a level by weights kept compares nets of different sizes at equal capacity). Test
    accuracy is NaN from a model's diverged epoch on and is scored at chance (CHANCE, 100 /
    classes). freq ("low" / "high"): mean over the lower / upper half of the probe's
    frequencies. metric "best_epoch": the epoch of lowest validation loss (the early-stopping
    iteration; runs with early_stop_val only). metric "epochs_to_loss": the first epoch whose
    training loss is ≤ `loss` (never: the run's epochs + 1, a censored value that favours no
    arm). metric "loss_auc": the mean training loss over the epochs up to `epoch` (a fraction of
    the run, an epoch, or the whole run), the area under the curve: a speed at epoch resolution
    no coarser than the curve. levels [lo, hi]: the per-seed mean over every IMP level run with
    lo ≤ fraction remaining ≤ hi (a comparison across levels).
    """
    if levels is not None:
        d = select_rows(df, "diverged_epoch", arm, size, None, dataset)
        lo, hi = levels
        runs = sorted(x for x in d["level"].unique() if lo - 1e-9 <= x <= hi + 1e-9)
        if not runs:
            raise LookupError(f"No level of arm {arm!r} in [{lo}, {hi}]")
        per = [select(df, metric, arm, size, lv, epoch, dataset, freq, loss) for lv in runs]
        return pd.concat(per, axis=1).mean(axis=1).sort_index()
    if kept is not None:
        level = level_for_kept(df, arm, size, dataset, kept)
    if metric == "epochs_to_loss":
        if loss is None:
            raise ValueError("metric epochs_to_loss needs a `loss` threshold in its selector")
        d = select_rows(df, "train_loss", arm, size, level, dataset)
        never = float(d["epoch"].max()) + 1
        hit = d[d["value"] <= loss].groupby("seed")["epoch"].min()
        return hit.reindex(sorted(d["seed"].unique())).fillna(never).astype(float)
    if metric == "loss_auc":  # the area under the training-loss curve up to `epoch`
        d = select_rows(df, "train_loss", arm, size, level, dataset)
        last = float(d["epoch"].max())
        if epoch in (None, "last", "end"):
            upto = last
        elif isinstance(epoch, float) and 0 < epoch < 1:
            upto = max(1.0, round(epoch * last))
        else:
            upto = float(epoch)
        d = d[d["epoch"] <= upto]  # a diverged epoch's NaN loss leaves that seed NaN: no value
        return d.groupby("seed")["value"].apply(lambda v: v.mean(skipna=False)).sort_index()
    if metric == "best_epoch":  # read on the validation part, never on test
        d = select_rows(df, "val_loss", arm, size, level, dataset)
        best = best_epochs(d, ["seed"]).set_index("seed")["epoch"].astype(float)
        return best.reindex(sorted(d["seed"].unique()))  # NaN: no finite loss (diverged)
    d = select_rows(df, metric, arm, size, level, dataset)
    last = float(d["epoch"].max())
    if epoch is None:
        epoch = "end" if metric in END_METRICS else "last"
    if epoch == "early":  # read on the validation part, never on test
        v = select_rows(df, "val_loss", arm, size, level, dataset)
        best = d["seed"].map(best_epochs(v, ["seed"]).set_index("seed")["epoch"])
        # a model with no finite validation loss has no best epoch: its last (at chance)
        d = d[(d["epoch"] == best) | (best.isna() & (d["epoch"] == last))]
    elif epoch == "end":
        d = d[d["epoch"] > last - END_WINDOW]
        if d.duplicated(["seed", "epoch"]).any():
            raise ValueError(f"Selection for arm {arm!r} is not one value per seed: add size/level")
        if metric == "test_acc":
            d = d.assign(value=d["value"].fillna(CHANCE.get(d["dataset"].iloc[0], np.nan)))
        return d.groupby("seed")["value"].mean().sort_index()
    elif epoch == "last":
        d = d[d["epoch"] == last]
    elif isinstance(epoch, float) and 0 < epoch < 1:
        d = d[d["epoch"] == _nearest(d["epoch"].to_numpy(), max(1.0, epoch * last))]
    elif float(epoch) > last:  # the nearest would be the last: another epoch than asked for
        raise LookupError(f"epoch {epoch} is past arm {arm!r}'s last recorded epoch {last:g}")
    else:
        d = d[d["epoch"] == _nearest(d["epoch"].to_numpy(), float(epoch))]
    if freq is not None:
        ks = np.sort(d["freq"].dropna().unique())
        half = ks[: len(ks) // 2] if freq == "low" else ks[len(ks) // 2 :]
        d = d[d["freq"].isin(half)].groupby(["seed", "dataset"], as_index=False)["value"].mean()
    if d["seed"].duplicated().any():
        raise ValueError(f"Selection for arm {arm!r} is not one value per seed: add size/level")
    vals = d.set_index("seed")["value"].sort_index()
    if metric == "test_acc":
        ds = d["dataset"].iloc[0]
        vals = vals.fillna(CHANCE.get(ds, np.nan))  # a diverged model counts at chance
    return vals


def best_epochs(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of `by`, the row of the lowest value (the early-stopping epoch for val loss);
    a group with no finite value (a model diverged in its first epoch) has no best epoch and
    is left out."""
    ok = d[np.isfinite(d["value"])]
    return ok.loc[ok.groupby(by)["value"].idxmin()]


def level_for_kept(df, arm, size=None, dataset=None, kept: float = 0) -> float:
    """The IMP level of `arm` whose count of prunable weights left (metric weights_kept, the
    same for every seed of a round) is nearest `kept`."""
    try:
        d = select_rows(df, "weights_kept", arm, size, None, dataset)
    except LookupError:
        raise LookupError(
            f"No weights_kept rows for arm {arm!r}"
            + (f", dataset {dataset!r}" if dataset else "")
            + ": a level by weights kept needs IMP runs written since nnclaims counted them; "
            "rerun them (snakemake --forcerun train_with_masks train)"
        ) from None
    per = d.groupby("level")["value"].mean()
    return float(per.index[np.argmin(np.abs(per.to_numpy() - kept))])


def levels_read(
    df: pd.DataFrame, hypotheses: list[dict], dataset: str, arms: list[str] | None = None
) -> list[float]:
    """The IMP levels that the hypotheses' `level` (a number) and `kept` selectors read on one
    dataset, for `arms` (default: any): rows the claim's table must show."""
    out = []
    for h in hypotheses:
        if h.get("datasets") and dataset not in h["datasets"]:
            continue
        for sel in (h.get("a") or {}, h.get("b") or {}):
            if not ("kept" in sel or isinstance(sel.get("level"), float)):
                continue
            if arms is not None and sel.get("arm") not in arms:
                continue  # e.g. the lottery experiment's levels, not rows of the IMP table
            try:
                d = select_rows(
                    df, "test_acc", sel["arm"], None, sel.get("level"), dataset, sel.get("kept")
                )
            except LookupError:
                continue
            out.append(float(d["level"].iloc[0]))
    return sorted(set(out), reverse=True)


def select_rows(df, metric, arm, size=None, level=None, dataset=None, kept=None) -> pd.DataFrame:
    """Rows of one metric and arm (one dataset), at the chosen size and pruning level (a
    fraction, or `kept`: a count of weights left)."""
    if kept is not None:
        level = level_for_kept(df, arm, size, dataset, kept)
    d = df[(df.metric == metric) & (df.arm == arm)]
    if dataset is not None:
        d = d[d.dataset == dataset]
    if d.empty:
        raise LookupError(
            f"No rows for metric {metric!r}, arm {arm!r}"
            + (f", dataset {dataset!r}" if dataset else "")
        )
    if size is not None:
        d = d[d["size"] == _pick(d["size"].to_numpy(), size)]
    if level is not None:
        # every seed of an IMP round keeps the same count of weights, so levels agree across seeds;
        # a number picks the nearest level run (e.g. 0.036, the paper's 3.6 %)
        lv = _pick(d["level"].to_numpy(), level)
        d = d[np.isclose(d["level"], _nearest(d["level"].to_numpy(), lv))]
    return d


def per_seed(df: pd.DataFrame, metric: str, by: list[str], epoch: Any = None) -> pd.DataFrame:
    """One row per group of `by` and seed (columns: by, seed, value): the end metric (mean over
    the last END_WINDOW epochs) for END_METRICS, else the last epoch (or `epoch`). A diverged
    model's test accuracy counts at chance. What a figure plots per seed, so that it shows the
    numbers the tables and tests read."""
    d = df[df.metric == metric].copy()
    if metric == "test_acc":
        d["value"] = d["value"].fillna(d["dataset"].map(CHANCE))
    if epoch is None:
        epoch = "end" if metric in END_METRICS else "last"
    last = d.groupby(by)["epoch"].transform("max")
    if epoch == "early":  # each model's epoch of lowest validation loss (never test)
        best = best_epochs(df[df.metric == "val_loss"], [*by, "seed"])
        d = d.merge(best[[*by, "seed", "epoch"]], on=[*by, "seed", "epoch"])
    elif epoch == "end":
        d = d[d["epoch"] > last - END_WINDOW].groupby([*by, "seed"], as_index=False)["value"].mean()
    else:
        d = d[d["epoch"] == (last if epoch == "last" else epoch)]
    return d[[*by, "seed", "value"]].reset_index(drop=True)


def summary(df: pd.DataFrame, metric: str, by: list[str], epoch: Any = None) -> pd.DataFrame:
    """Mean, SD and n over seeds of `metric` per group of `by` (the values of per_seed)."""
    g = per_seed(df, metric, by, epoch).groupby(by)["value"]
    return g.agg(mean="mean", sd="std", n="count").reset_index()
