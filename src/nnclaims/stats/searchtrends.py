"""The activation search's trends (Ramachandran et al. 2017, §3) as tests over the searched
functions. A side of such a hypothesis is `{with: feature}` or `{without: feature}`
(features of nnclaims.nets.searchspace); a diverged function scores chance: a failure, as the paper
counts it. The p enters the claim's Holm family beside the t-tests.

`test: ranksum` (do the functions of group a score above those of group b?): the statistic is
the AUC, P(a function of a scores above one of b) + ½ P(tie), 0.5 when the feature does not
matter; its p is the two-sided Mann-Whitney U test's (scipy, tie-corrected), its 95 % interval a
percentile bootstrap resampling each group.

`test: enrichment` (are the functions with a feature over-represented among the best?): the top
tenth of the sample by score (ties at the cut all in), against the rest; the statistic is the
odds ratio of the feature, top vs rest (conditional MLE), with its exact 95 % interval and
Fisher's exact two-sided p (scipy), 1 when the best functions are like the rest.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from nnclaims.nets import searchspace
from nnclaims.stats.selection import UNTRAINED_MARGIN

N_BOOT = 4999
CAND = "cand:"
TESTS = ("ranksum", "enrichment")  # its test types (nnclaims.kinds.actsearch declares them)


def scores(df: pd.DataFrame, dataset: str | None, chance: float = 10.0) -> pd.Series:
    """Each sampled function's validation accuracy (NaN → chance), indexed by its expression."""
    c = df[df["arm"].str.startswith(CAND) & (df["metric"] == "val_acc")]
    if dataset is not None:
        c = c[c["dataset"] == dataset]
    if c.empty:
        raise LookupError(f"no activation-search candidates on {dataset}")
    v = c.assign(v=c["value"].fillna(chance)).groupby("arm", sort=False)["v"].mean()
    v.index = [a[len(CAND) :] for a in v.index]
    return v


def _mask(s: pd.Series, sel: dict[str, Any]) -> np.ndarray:
    feat = sel.get("with", sel.get("without"))
    has = np.array([searchspace.has_feature(f, feat) for f in s.index], dtype=bool)
    return has if "with" in sel else ~has


def failed(df: pd.DataFrame, dataset: str | None, chance: float = 10.0) -> pd.Series:
    """Per sampled function (as `scores` indexes them): True where it diverged (no validation
    accuracy) or scored within UNTRAINED_MARGIN points of chance: it did not train."""
    c = df[df["arm"].str.startswith(CAND) & (df["metric"] == "val_acc")]
    if dataset is not None:
        c = c[c["dataset"] == dataset]
    v = c.groupby("arm", sort=False)["value"].apply(lambda x: x.mean(skipna=False))
    out = v.isna() | (v <= chance + UNTRAINED_MARGIN)
    out.index = [a[len(CAND) :] for a in out.index]
    return out


def group(s: pd.Series, sel: dict[str, Any], fails: pd.Series | None = None) -> np.ndarray:
    """The scores of the functions a side selects: {with: f} or {without: f}; with `trained:
    true`, only those that trained (`fails`: searchtrends.failed)."""
    keep = _mask(s, sel)
    if sel.get("trained") and fails is not None:
        keep &= ~fails.reindex(s.index).to_numpy(bool)
    return s.to_numpy()[keep]


def auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(A > B) + ½ P(A = B) over all pairs."""
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def ranksum(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """n (functions in both groups), mean (AUC), sd / lo / hi (bootstrap), p (Mann-Whitney)."""
    from scipy import stats as sps

    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a) + len(b)
    if len(a) < 2 or len(b) < 2:
        return {"n": n, "mean": np.nan, "sd": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan}
    rng = np.random.default_rng(seed)
    boot = np.array(
        [
            auc(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))])
            for _ in range(N_BOOT)
        ]
    )
    lo, hi = np.percentile(boot, [2.5, 97.5])
    p = float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return {
        "n": n,
        "mean": auc(a, b),
        "sd": float(boot.std(ddof=1)),
        "lo": float(lo),
        "hi": float(hi),
        "p": p,
    }


TOP = 0.1  # enrichment: the best tenth of the sample


def top_mask(s: pd.Series, top: float = TOP) -> np.ndarray:
    """The functions in the best `top` share by score; ties with the last one are all in."""
    k = max(1, int(round(top * len(s))))
    cut = np.sort(s.to_numpy())[::-1][k - 1]
    return s.to_numpy() >= cut


def enrichment(has: np.ndarray, top: np.ndarray) -> dict[str, float]:
    """n, mean (odds ratio of the feature, top vs rest), lo / hi (exact 95 %), p (Fisher)."""
    from scipy import stats as sps
    from scipy.stats.contingency import odds_ratio

    t = [[int((has & top).sum()), int((~has & top).sum())],
         [int((has & ~top).sum()), int((~has & ~top).sum())]]  # fmt: skip
    nan = {"n": len(has), "mean": np.nan, "sd": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan}
    if min(sum(t[0]), sum(t[1]), t[0][0] + t[1][0], t[0][1] + t[1][1]) == 0:
        return nan
    r = odds_ratio(t)
    ci = r.confidence_interval(0.95)
    p = float(sps.fisher_exact(t).pvalue)
    return {**nan, "mean": float(r.statistic), "lo": float(ci.low), "hi": float(ci.high), "p": p}


def values(df: pd.DataFrame, h: dict[str, Any], dataset: str | None, common: dict) -> dict:
    """A `test: ranksum` or `test: enrichment` hypothesis on one dataset (the row of
    verdicts.hypothesis_values); a_mean / b_mean are the groups' median scores."""
    s, fails = scores(df, dataset), failed(df, dataset)
    a, b = group(s, h["a"], fails), group(s, h["b"], fails)
    if h["test"] == "enrichment":
        feat = h["a"].get("with", h["a"].get("without"))
        has = np.array([searchspace.has_feature(f, feat) for f in s.index], dtype=bool)
        has = has if "with" in h["a"] else ~has
        top = top_mask(s)
        pre = enrichment(has, top)
        note = (f"{int((has & top).sum())} of the best {int(top.sum())} against "
                f"{int(has.sum())} of all {len(s)}")  # fmt: skip
    else:
        seed = zlib.crc32(f"{h['id']}/{dataset}".encode())  # the same resamples on every rebuild
        pre = ranksum(a, b, seed)
        note = f"{len(a)} vs {len(b)} sampled functions"
        if not h["a"].get("trained"):  # how much of the comparison is a count of failures
            na = int(fails.reindex(s.index).to_numpy(bool)[_mask(s, h["a"])].sum())
            nb = int(fails.reindex(s.index).to_numpy(bool)[_mask(s, h["b"])].sum())
            note += f" ({na} and {nb} of them did not train)"
    if not np.isfinite(pre["p"]):
        note += " (too few to test)"
    return {
        **common,
        "test": h["test"],
        "pre": pre,
        "a_mean": float(np.median(a)) if len(a) else np.nan,
        "b_mean": float(np.median(b)) if len(b) else np.nan,
        "groups": [len(a), len(b)],
        "untrained": [],
        "note": note,
    }


def ranked(df: pd.DataFrame, dataset: str) -> pd.Series:
    """The sampled functions' scores on one dataset, best first (ties: the sample's order), the
    order in which the search picked found1, found2, ..."""
    s = scores(df, dataset)
    return s.iloc[sorted(range(len(s)), key=lambda i: -s.iloc[i])]


def found(df: pd.DataFrame, dataset: str) -> dict[str, str]:
    """found1, found2, ... → the function each is, on one dataset."""
    arms = sorted({a for a in df["arm"] if a.startswith("found")}, key=lambda a: int(a[5:]))
    r = ranked(df, dataset)
    return {a: r.index[int(a[5:]) - 1] for a in arms if int(a[5:]) <= len(r)}


def reference_ranks(df: pd.DataFrame, dataset: str) -> dict[str, tuple[float, int]]:
    """ReLU's and Swish-1's validation accuracy in the search and their rank among the sampled
    functions (1 + the number that scored higher)."""
    s = scores(df, dataset)
    c = df[df["arm"].str.startswith("ref:") & (df["metric"] == "val_acc")]
    refs = c[c["dataset"] == dataset].groupby("arm")["value"].mean().fillna(10.0)
    out = {a[4:]: float(v) for a, v in refs.items()}
    if searchspace.SWISH in s.index:
        out[searchspace.SWISH] = float(s[searchspace.SWISH])
    return {f: (v, 1 + int((s > v).sum())) for f, v in out.items()}


def top_table(df: pd.DataFrame, dataset: str, n: int = 10) -> dict[str, Any]:
    """The report's table of one dataset's search: its best n functions, then ReLU and Swish-1
    with their ranks."""
    r = ranked(df, dataset)
    rows = []
    for i, (f, v) in enumerate(r.iloc[:n].items(), 1):
        rows.append([str(i), searchspace.formula(f), f"{v:.1f}", _tags(f)])
    for f, (v, rank) in reference_ranks(df, dataset).items():
        name = "ReLU" if f == searchspace.RELU else "Swish-1"
        tags = "reference, not in the sample" + ("" if f == searchspace.RELU else f"; {_tags(f)}")
        rows.append([str(rank), f"{name}: {searchspace.formula(f)}", f"{v:.1f}", tags])
    c = df[df["arm"].str.startswith(CAND) & (df["dataset"] == dataset)]
    failed = int(c["value"].isna().sum())
    return {
        "title": f"{dataset}: the search's best {n} of {len(r)} sampled functions, and where "
        f"ReLU and Swish-1 rank ({failed} of {len(r)} diverged in the short training: scored "
        "at chance; equal scores ranked in the sample's order)",
        "columns": ["rank", "function", "val. acc. (%)", "what the trends read"],
        "rows": rows,
    }


def _tags(f: str) -> str:
    ft = searchspace.features(f)
    tags = [f"{ft['units']} core unit{'s' if ft['units'] != 1 else ''}"]
    tags += ["b(x, g(x))"] if ft["raw_x"] else []
    tags += ["x ± periodic"] if ft["periodic_x"] else ["periodic"] if ft["periodic"] else []
    tags += ["division by ~0"] if ft["unbounded_division"] else []
    tags += ["bounded division"] if ft["division"] and not ft["unbounded_division"] else []
    return ", ".join(tags)
