"""What the report warns about in a claim's runs: models that diverged or did not train, an arm
whose chosen lr is an end of its grid, IMP rounds that stopped late, and the sanity anchors
against their published numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nnclaims.core.labels import label
from nnclaims.report.formats import fmt_pm
from nnclaims.stats.selection import UNTRAINED_MARGIN, best_epochs, select, untrained


def diverged(df: pd.DataFrame) -> str:
    """Which models diverged (loss NaN/inf) or did not train (selection.untrained), in words;
    'none' when every model trained."""
    d = df[(df.metric == "diverged_epoch") & (df.value > 0)]
    parts = []
    keys = ["arm", "size", "level"]
    for (arm, size, level), g in d.groupby(keys):
        total = df[
            (df.metric == "diverged_epoch")
            & (df.arm == arm)
            & (df["size"] == size)
            & np.isclose(df.level, level)
        ]
        where = f"{arm}, {size} layers" + ("" if level == 1 else f", {100 * level:.1f} % weights")
        epochs = ", ".join(str(int(e)) for e in sorted(g.value))
        parts.append(f"{where}: {len(g)} of {len(total)} (epochs {epochs})")
    out = []
    if parts:
        out.append("; ".join(parts) + " — no accuracy from the diverged epoch on; scored at chance")
    flat = untrained(df)
    seeds = df[df.metric == "diverged_epoch"].groupby(["dataset", "arm", "size"])["seed"].nunique()
    lines = [
        f"{label(arm)} on {ds}, {size} layers: {len(g)} of {seeds.get((ds, arm, size), len(g))} "
        f"seeds (final test accuracy {g['final'].mean():.1f} %; {', '.join(sorted(set(g['why'])))})"
        for (ds, arm, size), g in flat.groupby(["dataset", "arm", "size"])
    ]
    if lines:
        out.append(
            "did not train (final test accuracy within "
            f"{UNTRAINED_MARGIN:g} points of chance, or training loss never below its first "
            "epoch's): " + "; ".join(lines) + " — counted as diverged models are: an arm with no "
            "trained model decides no test"
        )
    return ". ".join(out) or "none"


def lr_edges(df: pd.DataFrame) -> list[str]:
    """Arms whose validated lr is the smallest or largest of their grid: the best lr
    may lie outside the grid, and the report says so."""
    if "split" not in df:
        return []
    val = df[
        (df["split"] == "val") & (df["metric"] == "val_acc") & ~df["arm"].str.startswith("cand:")
    ]
    out = []
    for (ds, arm), g in val.groupby(["dataset", "arm"], sort=False):
        grid = sorted(g["lr"].unique())
        used = df[(df["dataset"] == ds) & (df["arm"] == arm) & (df["metric"] == "test_acc")]
        if len(grid) < 2 or used.empty:
            continue
        lr = float(used["lr"].iloc[0])
        if np.isclose(lr, grid[0]) or np.isclose(lr, grid[-1]):
            end = "smallest" if np.isclose(lr, grid[0]) else "largest"
            out.append(f"{label(arm)} on {ds}: {lr:g}, the grid's {end}")
    return out


def late_stops(df: pd.DataFrame, tail: float = 0.1) -> list[str]:
    """Groups (dataset, arm, level) whose mean epoch of lowest validation loss falls in the
    last `tail` of training: they may still be improving when training ends."""
    val = df[df["metric"] == "val_loss"]
    if val.empty:
        return []
    keys = ["dataset", "arm", "level"]
    best = best_epochs(val, [*keys, "seed"])
    last = val.groupby(keys)["epoch"].max()
    late: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for key, g in best.groupby(keys, sort=False):
        mean, end = float(g["epoch"].mean()), float(last[key])
        if mean > (1 - tail) * end:
            late.setdefault(key[:2], []).append((key[2], mean, end))
    out = []
    for (ds, arm), rows in late.items():  # one entry per arm: its levels, the epochs' range
        levels = ", ".join(f"{100 * lv:.1f}" for lv, _, _ in sorted(rows, reverse=True))
        lo, hi = min(m for _, m, _ in rows), max(m for _, m, _ in rows)
        span = f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}"
        out.append(
            f"{label(arm)} on {ds} at {levels} % of weights: epoch {span} of {rows[0][2]:.0f}"
        )
    return out


def sanity(df: pd.DataFrame, baselines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our baseline arms against published baselines: within 2 published SDs (or within the
    baseline's `within` points, for a mean published without its SD) or not, and the gap (ours −
    published) in points."""
    rows = []
    for b in baselines:
        try:
            v = select(df, "test_acc", b["arm"], dataset=b["dataset"], epoch=b.get("epoch"))
        except LookupError:
            continue
        m = float(v.mean())
        gap = m - b["published"]
        sd = b.get("sd")
        ok = abs(gap) <= (2 * sd if sd else b["within"])
        bound = "2 SD" if sd else f"{b['within']:g} point{'s' if b['within'] != 1 else ''}"
        rows.append(
            {
                "what": b["what"],
                "dataset": b["dataset"],
                "published": (f"{b['published']:g} ± {sd:g}" if sd else f"{b['published']:g}")
                + (f" ({b['also']})" if b.get("also") else ""),
                "ours": fmt_pm(m, float(v.std()))
                + (" (final epoch)" if b.get("epoch") == "last" else ""),
                "gap": gap,
                "check": f"{'within' if ok else 'outside'} {bound} (gap {gap:+.1f})",
                "source": b["source"],
            }
        )
    return rows
