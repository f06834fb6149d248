"""A width sweep's tests (bhauth 2023 on overparameterization thresholds). A side of
such a hypothesis is `{variant: <tag>}`: the sweep run of that variant of the claim ("" for its
own), whose arms are w<width>[_<tag>] (kinds.widths). Per width and seed the metric is read as
for any arm (test accuracy: the mean of the last epochs; fit_loss / fit_acc: the final model on
its training set). A diverged model is a failure: loss at chance (ln classes), accuracy at
chance.

`test: knee` (does the metric fall sharply past some width, or along a power law?): log10 of
the seeds' geometric mean of the metric against log2 width; at each candidate knee, the slope
over the WINDOW widths ending there and over the WINDOW widths starting there (least squares);
the statistic is the largest ratio, slope after over slope before, over the candidates (1 on a
power law, a straight line; inf where the curve is flat before and falls after). A local
window, not one straight line each side: a sweep can show three regimes (flat, a sharp fall,
then a power law, as digits does), and two long segments would average the fall away. Its 95 %
interval and p are a bootstrap over seeds that places the knee again in every sample (the
choice is part of what is resampled); p is two-sided, of ratio = threshold, add-one corrected,
as in nnclaims.stats.ranking. The knee's width, with its bootstrap interval, is the reported
transition. The largest of several ratios exceeds 1 on almost any noisy curve, so the p tests
the observed ratio against curves without a knee: a power law (a straight line of log loss
against log2 width) fitted to the seeds' mean curve, plus the seeds' own deviations from their
mean curve, resampled over seeds (a parametric bootstrap); p is the share of such curves whose
largest ratio reaches the observed one. A knee test can support a knee (p below the level and
the ratio above the threshold) but not contradict one: its other outcome is inconclusive.

`test: spread` (does the seeds' disagreement shrink as the net widens?): Spearman's ρ between
log width and the across-seed SD of the metric per width (−1: it shrinks at every step), with a
bootstrap interval over seeds (descriptive) and the p of a permutation test over the widths
(every order of the SDs when there are at most 8 widths): with no trend the SDs of the widths
are exchangeable. Its threshold is 0. A loss is read as log10 loss: its SD is the spread
relative to the loss (the SD of the loss itself must shrink as the loss nears 0, whatever the
seeds do).

`test: past_threshold` (does the metric hold up past the interpolation threshold?): per seed,
the metric at the widest width minus at the threshold, the narrowest width whose mean fit_acc
reaches INTERPOLATES % (read off the training set: the test set chooses nothing); a paired
t-test against the threshold, like any arm comparison.

`test: peak` (deep double descent: does test accuracy dip at the interpolation threshold?): per
seed, the metric at the threshold minus at PEAK_STEPS widths narrower (a quarter of the width on
a √2 grid), and minus at the widest width; both must be below 0. An intersection-union test:
each difference's paired t-test, the larger mean and the larger p decide (level ≤ α whatever
the other difference is).
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pandas as pd

from nnclaims.stats.selection import CHANCE, select

TESTS = (
    "knee",
    "spread",
    "past_threshold",
    "peak",
)  # its test types (nnclaims.kinds.widths declares them)
N_BOOT = 1999
INTERPOLATES = 99.0  # % training accuracy (noisy labels included) at which a width fits its set
WINDOW = 3  # widths on each side of a knee, the knee shared (one octave on a √2 grid)
LOSS_FLOOR = 1e-8  # log10 of a loss that reached 0 in float32
PEAK_STEPS = 4  # the peak test's narrower width: this many widths below the threshold


def sweep_arms(df: pd.DataFrame, tag: str, dataset: str | None) -> dict[int, str]:
    """width → arm of variant `tag`'s sweep on `dataset`, narrowest first."""
    arms = df.loc[df["dataset"] == dataset, "arm"] if dataset is not None else df["arm"]
    pat = re.compile(r"^w(\d+)" + (f"_{re.escape(tag)}" if tag else "") + "$")
    found = {int(m.group(1)): a for a in dict.fromkeys(arms) if (m := pat.match(a))}
    if len(found) < 2 * WINDOW - 1:
        raise LookupError(f"no width sweep {tag!r} on {dataset}")
    return dict(sorted(found.items()))


def table(df: pd.DataFrame, metric: str, tag: str, dataset: str | None) -> pd.DataFrame:
    """(seeds, widths) of the metric; a diverged model counts as a failure at chance."""
    chance = CHANCE.get(dataset or "", 10.0)
    fail = np.log(100.0 / chance) if "loss" in metric else chance
    arms = sweep_arms(df, tag, dataset)
    t = pd.DataFrame({w: select(df, metric, arm=a, dataset=dataset) for w, a in arms.items()})
    return t.fillna(fail)


def _window_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y against x over every WINDOW consecutive points: y (..., n) →
    (..., n − WINDOW + 1), the closed form of a degree-1 polyfit per window."""
    xw = np.lib.stride_tricks.sliding_window_view(x, WINDOW)  # (m, WINDOW)
    yw = np.lib.stride_tricks.sliding_window_view(y, WINDOW, axis=-1)  # (..., m, WINDOW)
    xc = xw - xw.mean(axis=-1, keepdims=True)
    yc = yw - yw.mean(axis=-1, keepdims=True)
    return (xc * yc).sum(axis=-1) / (xc * xc).sum(axis=-1)


def knee_fits(widths, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """knee_fit for each row of y (..., n): (ratio, knee width, slope before, slope after)."""
    x = np.log2(np.asarray(widths, float))
    slopes = _window_slopes(x, np.asarray(y, float))  # window k spans points k .. k + WINDOW − 1
    before, after = slopes[..., : -WINDOW + 1], slopes[..., WINDOW - 1 :]  # knee j = k + WINDOW − 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before >= 0, np.where(after < 0, np.inf, -np.inf), after / before)
    j = np.argmax(ratio, axis=-1)[..., None]  # the first of equal ratios, as a loop would keep
    knees = np.asarray(widths, float)[WINDOW - 1 :][j[..., 0]]
    at_knee = [np.take_along_axis(a, j, axis=-1)[..., 0] for a in (ratio, before, after)]
    return at_knee[0], knees, at_knee[1], at_knee[2]


def knee_fit(widths: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(knee width, slope before, slope after) of y against log2 width: the slopes over the
    WINDOW widths ending and starting at each candidate knee, the knee where the slope after
    is the largest multiple of the slope before (flat or rising before, falling after: inf)."""
    _, knee, before, after = knee_fits(widths, y)
    return float(knee), float(before), float(after)


def _curves(t: np.ndarray) -> np.ndarray:
    """log10 of the seeds' geometric mean per width: t (..., seeds, widths) → (..., widths)."""
    return np.log10(np.maximum(t, LOSS_FLOOR)).mean(axis=-2)


def _ratio(widths, t: np.ndarray) -> tuple[float, float]:
    """(slope ratio after / before, knee width) of the seeds' geometric-mean curve."""
    ratio, knee, _, _ = knee_fits(widths, _curves(t))
    return float(ratio), float(knee)


def _ratios(widths, t: np.ndarray) -> np.ndarray:
    """The slope ratio of each sample: t (samples, seeds, widths) → (samples,)."""
    return knee_fits(widths, _curves(t))[0]


def _spearmans(widths, t: np.ndarray) -> np.ndarray:
    """Spearman's ρ between log width and the SD over seeds, per sample: t (samples, seeds,
    widths) → (samples,); NaN where the SD is the same at every width (no ranking)."""
    return _rho(widths, t.std(axis=-2, ddof=1))


def _rho(widths, sd: np.ndarray) -> np.ndarray:
    """Spearman's ρ between log width and each row of sd (..., widths), as scipy's spearmanr."""
    from scipy import stats as sps

    rx = sps.rankdata(np.log2(np.asarray(widths, float)))
    ry = sps.rankdata(sd, axis=-1)  # ties get their mean rank, as spearmanr does
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (ry * rx).sum(-1) / np.sqrt((ry * ry).sum(-1) * (rx * rx).sum())
    return np.where(np.ptp(sd, axis=-1) == 0, np.nan, rho)


def _bootstrap(stats, widths, t: np.ndarray, threshold: float, seed: int) -> dict[str, float]:
    """stats (samples, seeds, widths) → (samples,) over the observed seeds, and over N_BOOT
    resamples of them: n, mean, sd, lo, hi (a percentile interval, descriptive), p (two-sided,
    of stat = threshold, add-one corrected: miscalibrated at few seeds, so the tests replace
    it with a p of their own)."""
    n = t.shape[0]
    obs = float(stats(widths, t[None])[0])
    nan = {"n": n, "mean": obs, "sd": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan}
    if n < 3 or not np.isfinite(obs):
        return nan
    rng = np.random.default_rng(seed)
    boot = stats(widths, t[rng.integers(0, n, (N_BOOT, n))])  # the draws of N_BOOT calls of n
    boot = boot[np.isfinite(boot)]
    if len(boot) < N_BOOT // 2:
        return nan
    below = (np.sum(boot <= threshold) + 1) / (len(boot) + 1)
    above = (np.sum(boot >= threshold) + 1) / (len(boot) + 1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    p = float(min(1.0, 2 * min(below, above)))
    return {"n": n, "mean": obs, "sd": float(boot.std(ddof=1)), "lo": lo, "hi": hi, "p": p}


def knee_null_p(widths, t: np.ndarray, seed: int) -> float:
    """p of the observed knee ratio against curves without a knee: the power law fitted to the
    seeds' mean log curve plus the seeds' deviations from it, resampled over seeds and scaled by
    √(n / (n − 1)) (the spread of a mean of n draws); add-one corrected."""
    logs = np.log10(np.maximum(t, LOSS_FLOOR))  # (seeds, widths)
    n = logs.shape[0]
    if n < 3:  # as the interval: fewer seeds give no spread to resample
        return np.nan
    obs = knee_fits(widths, logs.mean(0))[0]
    x = np.log2(np.asarray(widths, float))
    line = np.polyval(np.polyfit(x, logs.mean(0), 1), x)
    dev = (logs - logs.mean(0)) * np.sqrt(n / (n - 1))
    rng = np.random.default_rng(seed)
    null = line + dev[rng.integers(0, n, (N_BOOT, n))].mean(axis=1)  # (N_BOOT, widths)
    ratios = knee_fits(widths, null)[0]
    return float((np.sum(ratios >= obs) + 1) / (N_BOOT + 1))


def spread_permutation_p(widths, t: np.ndarray, seed: int) -> float:
    """Two-sided p of Spearman's ρ between log width and the seeds' SD per width, over every
    order of the SDs across the widths (N_BOOT random orders beyond 8 widths): exact when, with
    no trend, the widths' SDs are exchangeable."""
    import itertools

    sd = t.std(axis=0, ddof=1)
    m = len(sd)
    obs = _rho(widths, sd)
    if not np.isfinite(obs):
        return np.nan
    if m <= 8:
        orders = np.array(list(itertools.permutations(range(m))))
    else:
        rng = np.random.default_rng(seed)
        orders = rng.permuted(np.tile(np.arange(m), (N_BOOT, 1)), axis=1)
    rhos = _rho(widths, sd[orders])
    hits = np.sum(np.abs(rhos) >= abs(obs) - 1e-12)
    return float(hits / len(orders) if m <= 8 else (hits + 1) / (len(orders) + 1))


def threshold_width(df: pd.DataFrame, tag: str, dataset: str | None) -> int | None:
    """The interpolation threshold: the narrowest width whose seeds' mean training accuracy
    reaches INTERPOLATES %; None when no width does."""
    acc = table(df, "fit_acc", tag, dataset).mean(axis=0)
    fits = [w for w, v in acc.items() if v >= INTERPOLATES]
    return int(fits[0]) if fits else None


def knee_width_ci(widths, t: np.ndarray, seed: int) -> tuple[float, float, float]:
    """The knee's width and its 95 % bootstrap interval over seeds."""
    rng = np.random.default_rng(seed)
    n = t.shape[0]
    knees = knee_fits(widths, _curves(t[rng.integers(0, n, (N_BOOT, n))]))[1]
    lo, hi = np.percentile(knees, [2.5, 97.5])
    return _ratio(widths, t)[1], float(lo), float(hi)


def values(df: pd.DataFrame, h: dict[str, Any], dataset: str | None, common: dict) -> dict:
    """One width-sweep hypothesis on one dataset (the row of verdicts.hypothesis_values)."""
    tag = h["a"]["variant"]
    t = table(df, h["metric"], tag, dataset)
    widths = np.array(t.columns, dtype=float)
    seed = zlib.crc32(f"{h['id']}/{dataset}".encode())  # the same resamples on every rebuild
    out = {**common, "test": h["test"], "untrained": [], "widths": [int(w) for w in widths]}
    if h["test"] == "past_threshold":
        w0 = threshold_width(df, tag, dataset)
        wide = int(widths[-1])
        if w0 is None or w0 == wide:
            why = "no width" if w0 is None else "only the widest width"
            d = np.array([])
            note = f"{why} reached {INTERPOLATES:g} % training accuracy: nothing past the threshold"
        else:
            d = (t[wide] - t[w0]).to_numpy(float)
            note = f"widest ({wide}) minus the interpolation threshold ({w0} units)"
        return {
            **out,
            "d": d,
            "a_mean": float(t[wide].mean()),
            "b_mean": None if w0 is None else float(t[w0].mean()),
            "threshold_width": w0,
            "note": note,
        }
    if h["test"] == "peak":
        return {**out, **_peak(t, threshold_width(df, tag, dataset))}
    arr = t.to_numpy(float)
    if h["test"] == "knee":
        pre = _bootstrap(_ratios, widths, arr, h["threshold"], seed)  # its interval
        pre = {**pre, "p": knee_null_p(widths, arr, seed + 2), "supports_only": True}
        knee, lo, hi = knee_width_ci(widths, arr, seed + 1)
        w0 = threshold_width(df, tag, dataset)
        note = f"knee at {knee:g} units [{lo:g}, {hi:g}]" + (
            f", training set fit from {w0} units" if w0 is not None else ""
        )
        out["knee"] = [knee, lo, hi]
    else:
        loss = "loss" in h["metric"]
        arr_s = np.log10(np.maximum(arr, LOSS_FLOOR)) if loss else arr
        pre = _bootstrap(_spearmans, widths, arr_s, h["threshold"], seed)  # its interval
        pre = {**pre, "p": spread_permutation_p(widths, arr_s, seed + 2)}
        sd = arr_s.std(0, ddof=1)
        what = "SD of log10 loss over seeds" if loss else "SD over seeds"
        note = f"{what} {sd[0]:.3g} at {widths[0]:g} units, {sd[-1]:.3g} at {widths[-1]:g}"
    return {
        **out,
        "pre": pre,
        "a_mean": float(arr[:, 0].mean()),
        "b_mean": float(arr[:, -1].mean()),
        "note": note,
    }


def _peak(t: pd.DataFrame, w0: int | None) -> dict[str, Any]:
    """The peak test's row: the intersection-union of (threshold − narrower) < 0 and
    (threshold − widest) < 0, per seed."""
    from nnclaims.stats import paired as stats

    widths = list(t.columns)
    i0 = None if w0 is None else widths.index(w0)
    if i0 is None or i0 == 0 or i0 == len(widths) - 1:
        why = "no width reached" if i0 is None else "the narrowest or widest width reached"
        empty = {"n": 0, "mean": np.nan, "sd": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan}
        return {"pre": empty, "a_mean": np.nan, "b_mean": None,
                "note": f"{why} {INTERPOLATES:g} % training accuracy: no peak to test"}  # fmt: skip
    narrow, wide = widths[max(0, i0 - PEAK_STEPS)], widths[-1]
    diffs = [(t[w0] - t[w]).to_numpy(float) for w in (narrow, wide)]
    means = [float(d.mean()) for d in diffs]
    k = int(np.argmax(means))  # the difference nearer to no dip decides
    mean, lo, hi = stats.mean_ci(diffs[k])
    p = max(stats.paired_p(d, 0.0) for d in diffs)
    pre = {"n": len(diffs[k]), "mean": mean, "sd": float(diffs[k].std(ddof=1)), "lo": lo,
           "hi": hi, "p": p}  # fmt: skip
    return {
        "pre": pre,
        "a_mean": float(t[w0].mean()),
        "b_mean": float(t[[narrow, wide]].mean().mean()),
        "note": f"at the threshold ({w0} units) minus at {narrow} units {means[0]:+.1f}, minus at "
        f"{wide} units {means[1]:+.1f}; the larger decides",
    }


def variants(df: pd.DataFrame) -> list[str]:
    """The sweep variants in a claim's table: "" (clean) first, then the tags."""
    tags = {
        m.group(2) or "" for a in df["arm"].unique() if (m := re.match(r"^w(\d+)(?:_(.+))?$", a))
    }
    return sorted(tags, key=lambda t: (t != "", t))


def curves(df: pd.DataFrame, dataset: str, tag: str) -> pd.DataFrame:
    """Per width: mean and SD over seeds of fit_loss, fit_acc and test accuracy (end metric)."""
    out = {}
    for m in ("fit_loss", "fit_acc", "test_acc"):
        t = table(df, m, tag, dataset)
        out[f"{m}_mean"], out[f"{m}_sd"] = t.mean(axis=0), t.std(axis=0, ddof=1)
    return pd.DataFrame(out).rename_axis("width")


def sweep_table(df: pd.DataFrame) -> dict[str, Any]:
    """The report's table of a sweep: per width, training / test accuracy (mean over seeds) of
    each dataset and variant."""
    datasets = [d for d in dict.fromkeys(df["dataset"])]
    cols, data = [], []
    for ds in datasets:
        for tag in variants(df[df["dataset"] == ds]):
            cols.append(f"{ds}{', ' + tag if tag else ''}: train / test acc. (%)")
            data.append(curves(df, ds, tag))
    widths = sorted(set().union(*(c.index for c in data)))
    rows = [
        [str(w)]
        + [
            f"{c.loc[w, 'fit_acc_mean']:.1f} / {c.loc[w, 'test_acc_mean']:.1f}"
            if w in c.index else "—"
            for c in data
        ]
        for w in widths
    ]  # fmt: skip
    return {"columns": ["width", *cols], "rows": rows}
