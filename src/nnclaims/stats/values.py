"""The numbers a test compares, from a claim's tidy table: each side's per-seed values (an arm,
chosen on validation where a side says so), the paired row a `paired` hypothesis is decided on,
and the per-seed rankings of a `kendall` one (nnclaims.stats.testtypes calls them; the verdicts
are nnclaims.stats.verdicts')."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nnclaims.core import catalog, testtype
from nnclaims.core.labels import label
from nnclaims.stats import paired as stats
from nnclaims.stats import ranking
from nnclaims.stats.selection import CHANCE, END_METRICS, select, select_rows, untrained


def _untrained(df: pd.DataFrame, sel: dict[str, Any], dataset: str | None) -> bool:
    """True when every seed of the selected arm diverged or did not train (selection.untrained):
    it has no trained model to compare."""
    keys = {k: sel[k] for k in ("size", "level", "kept") if k in sel}
    try:
        d = select_rows(df, "diverged_epoch", sel["arm"], dataset=dataset, **keys)
    except LookupError:
        return False
    if not len(d):
        return False
    failed = set(d.loc[d["value"] > 0, "seed"])
    if failed != set(d["seed"]):
        mine = df[df["arm"] == sel["arm"]]
        flat = untrained(mine[mine["dataset"] == dataset] if dataset else mine)
        sizes = set(d["size"])
        failed |= set(flat.loc[flat["size"].isin(sizes), "seed"])
    return failed >= set(d["seed"])


def side(df: pd.DataFrame, metric: str, sel: dict[str, Any], dataset: str | None) -> pd.Series:
    """Per-seed values of one side of a hypothesis; a selector with `minus` gives the per-seed
    change sel − minus (e.g. an arm's change from the small to the large size), so that
    a − b is a difference in differences, paired by seed; one with `arms` the per-seed min or
    max over them."""
    own = {k: v for k, v in sel.items() if k not in ("minus", "arms", "of")}
    if "arms" in sel and sel["of"] in ("best_val", "worst_val"):  # one arm, chosen on validation
        v = select(df, metric, dataset=dataset, **own, arm=chosen_on_validation(df, sel, dataset))
    elif "arms" in sel:  # per seed, the lowest or highest of several arms (NaN where one has none)
        per = pd.DataFrame(
            {x: select(df, metric, dataset=dataset, **own, arm=x) for x in sel["arms"]}
        )
        v = per.min(axis=1, skipna=False) if sel["of"] == "min" else per.max(axis=1, skipna=False)
    else:
        v = select(df, metric, dataset=dataset, **own)
    if "minus" not in sel:
        return v
    m = select(df, metric, dataset=dataset, **sel["minus"])
    common = v.index.intersection(m.index)
    return v.loc[common] - m.loc[common]


def chosen_on_validation(df: pd.DataFrame, sel: dict[str, Any], dataset: str | None) -> str:
    """The arm of `sel["arms"]` with the highest (best_val) or lowest (worst_val) validation
    accuracy: its lr search's val_acc rows at the lr its runs trained at, mean over the tune
    seeds. The test set chooses nothing. LookupError when an arm has no validation rows."""
    size = {k: sel[k] for k in ("size",) if k in sel}
    scores = {}
    for arm in sel["arms"]:
        trained = select_rows(df, "test_acc", arm, dataset=dataset, **size)
        val = df[(df["arm"] == arm) & (df["metric"] == "val_acc")]
        if dataset is not None:
            val = val[val["dataset"] == dataset]
        if "size" in sel:
            val = val[val["size"] == trained["size"].iloc[0]]
        val = val[np.isclose(val["lr"], trained["lr"].iloc[0])]
        if val.empty:
            raise LookupError(f"arm {arm!r} has no validation accuracy (no lr search) to choose by")
        # a diverged tuning seed scores at chance, as in the lr search itself
        chance = CHANCE.get(dataset or "", 10.0)
        scores[arm] = float(val["value"].fillna(chance).mean())
    pick = max if sel["of"] == "best_val" else min
    return pick(scores, key=scores.get)


def _compared(df: pd.DataFrame, sel: dict[str, Any] | None, dataset: str | None) -> list:
    """The plain selectors whose models a side's numbers come from: as `_arms`, but for an arm
    chosen on validation only the chosen one (an untrained candidate it did not choose does not
    stop the comparison)."""
    if sel is not None and sel.get("of") in ("best_val", "worst_val"):
        rest = {k: v for k, v in sel.items() if k not in ("arms", "of", "minus")}
        return [{**rest, "arm": chosen_on_validation(df, sel, dataset)}]
    return _arms(sel)


def _arms(sel: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The plain selectors inside a side (itself and its `minus`; one per arm of `arms`)."""
    if sel is None:
        return []
    out = []
    for s in [sel] + ([sel["minus"]] if "minus" in sel else []):
        rest = {k: v for k, v in s.items() if k not in ("arms", "of")}
        out += [{**rest, "arm": x} for x in s["arms"]] if "arms" in s else [s]
    return out


def short(h: dict[str, Any], limit: int = 70) -> str:
    """A hypothesis's name in a figure or a table cell: its `label`, else its text (cut to
    `limit` characters at a word), never its id."""
    if h.get("label"):
        return h["label"]
    t = h["text"]
    return t if len(t) <= limit else t[: t.rfind(" ", 0, limit)] + " …"


def _common(h: dict[str, Any], dataset: str | None) -> dict[str, Any]:
    return {
        "id": h["id"],
        "text": h["text"],
        "label": short(h),
        "part": h.get("part"),
        "dataset": dataset,
        "source": h.get("source", ""),
        "direction": h["direction"],
        "threshold": h["threshold"],
        "metric": h["metric"],
        # the seeds' test sets overlap (resplits of one pool): the corrected resampled t
        "overlap": catalog.RESPLIT_OVERLAP.get(dataset, 0.0),
        # the margin of no practical difference on this dataset (TOST), where declared
        "equivalence": (h.get("equivalence") or {}).get(dataset),
    }


def ranking_values(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None, common: dict[str, Any]
) -> dict[str, Any]:
    """A `test: kendall` hypothesis on one dataset: τ-b between the rankings of the arms of
    variant a.variant and of the same activations in variant b.variant ("" is the claim's own
    arms) within each seed both have, its mean t-tested over those seeds (nnclaims.stats.ranking);
    `arms` lists each pair's two means."""
    arms = list(dict.fromkeys(df.loc[df["dataset"] == dataset, "arm"]))
    pairs = ranking.variant_pairs(arms, h["a"]["variant"], h["b"]["variant"])
    if len(pairs) < 3:
        raise LookupError(f"{h['id']}: fewer than 3 arms in both variants on {dataset}")

    def table(sel: dict[str, Any], arms: list[str]) -> pd.DataFrame:  # (seeds, arms)
        own = {k: v for k, v in sel.items() if k != "variant"}
        return pd.DataFrame({x: side(df, h["metric"], {**own, "arm": x}, dataset) for x in arms})

    a = table(h["a"], [x for x, _ in pairs])
    b = table(h["b"], [y for _, y in pairs])
    seeds = a.dropna().index.intersection(b.dropna().index)
    a, b = a.loc[seeds], b.loc[seeds]
    pre = ranking.per_seed(a.to_numpy(), b.to_numpy(), h["threshold"])
    # an arm whose two variants are the same runs (its validated lr is the shared one) agrees
    # by construction: with fewer than 3 arms that differ the rankings say nothing
    same = [y for x, y in pairs if np.array_equal(a[x].to_numpy(), b[y].to_numpy())]
    note = ""
    if len(pairs) - len(same) < 3:
        pre = {**pre, "p": np.nan}
        note = (
            f"{len(same)} of {len(pairs)} arms are the same runs in both variants: nothing to rank"
        )
    elif same:
        note = f"{', '.join(same)}: the same runs in both variants"
    if pre["n"] < ranking.MIN_SEEDS:
        note = f"{pre['n']} seeds: a t-test over fewer than {ranking.MIN_SEEDS} decides nothing"
    if np.isfinite(pre["p"]):  # beside a test that decides: the less noisy description
        tau = f"τ-b of the mean values {pre['tau_of_means']:.2f} (descriptive)"
        note = f"{note}; {tau}" if note else tau
    return {
        **common,
        "test": "kendall",
        "pre": pre,
        "arms": [
            {"a": x, "b": y, "a_mean": float(a[x].mean()), "b_mean": float(b[y].mean())}
            for x, y in pairs
        ],
        "a_mean": float(a.to_numpy().mean()),
        "b_mean": float(b.to_numpy().mean()),
        "untrained": [],
        "note": note,
    }


def hypothesis_values(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    """One hypothesis on one dataset, by its test type (nnclaims.stats.testtypes): for the default
    `paired`, paired_values; raises LookupError when the dataset has none of its rows."""
    return testtype.of(h).compute(df, h, dataset, _common(h, dataset))


def paired_values(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None, common: dict[str, Any]
) -> dict[str, Any]:
    """A `paired` hypothesis: the per-seed differences d = a − b (paired by seed) and the arms'
    means; for END_METRICS also their last-epoch means, shown beside the end metric."""
    a = side(df, h["metric"], h["a"], dataset)
    b = side(df, h["metric"], h["b"], dataset) if "b" in h else None
    if b is not None:
        seeds = a.index.intersection(b.index)
        a, b = a.loc[seeds], b.loc[seeds]
    d = a.to_numpy(float) - (0 if b is None else b.to_numpy(float))
    out = {
        **common,
        # a pair with no value (a best epoch of a model that diverged at once) decides nothing
        "d": d[np.isfinite(d)],
        "share_above": None if b is None else stats.share_above(d),
        "a_mean": float(a.mean()),
        "b_mean": None if b is None else float(b.mean()),
        # the arm of a side that names one plainly (the tuning-budget table reads its search)
        "arm_a": _plain_arm(h["a"]),
        "arm_b": _plain_arm(h.get("b")),
        "untrained": list(
            dict.fromkeys(
                s["arm"]
                for s in _compared(df, h["a"], dataset) + _compared(df, h.get("b"), dataset)
                if _untrained(df, s, dataset)
            )
        ),
    }
    picked = [
        f"{k} {label(chosen_on_validation(df, h[k], dataset))}"
        for k in ("a", "b")
        if (h.get(k) or {}).get("of") in ("best_val", "worst_val")
    ]
    if picked:
        out["note"] = f"chosen on validation: {', '.join(picked)}"
    if h["metric"] in END_METRICS and "epoch" not in h["a"]:

        def last(sel: dict[str, Any]) -> float:
            at_last = {**sel, "epoch": "last"}
            if "minus" in sel:
                at_last["minus"] = {**sel["minus"], "epoch": "last"}
            return float(side(df, h["metric"], at_last, dataset).mean())

        out["a_last"] = last(h["a"])
        out["b_last"] = last(h["b"]) if "b" in h else None
    return out


def _plain_arm(sel: dict[str, Any] | None) -> str | None:
    plain = sel is not None and "arm" in sel and not {"minus", "of", "arms"} & set(sel)
    return sel["arm"] if plain else None
