"""How a claim is decided: every hypothesis of config/claims.yaml on every dataset that has its
arms, paired by seed (nnclaims.stats). Each source of a claim (each of its `parts`, or the claim
when it has none) names one primary hypothesis before the data; the primary's verdict is the
claim's verdict for that source. The primaries are one Holm family, the other (secondary)
hypotheses another: a secondary test qualifies the verdict in the report and never overturns it.
`evaluate_claim` is the one function the notebooks, the report and the CLI call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import catalog, ranking, stats, testtypes
from .labels import label
from .selection import CHANCE, END_METRICS, SPECTRAL, select, select_rows, untrained


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
    arms) within each seed both have, its mean t-tested over those seeds (nnclaims.ranking);
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
    """One hypothesis on one dataset, by its test type (nnclaims.testtypes): for the default
    `paired`, paired_values; raises LookupError when the dataset has none of its rows."""
    return testtypes.of(h).compute(df, h, dataset, _common(h, dataset))


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


def primary_ids(claim: dict[str, Any]) -> dict[str, str]:
    """Each source's primary hypothesis: {part id ("" for a claim without parts): hypothesis id},
    the one marked `primary: true`, else the source's first (config/claims.yaml names them)."""
    out = {h.get("part", ""): h["id"] for h in claim["hypotheses"] if h.get("primary")}
    for h in claim["hypotheses"]:
        out.setdefault(h.get("part", ""), h["id"])
    return out


def evaluate_families(
    rows: list[dict[str, Any]], alpha: float = stats.ALPHA
) -> list[dict[str, Any]]:
    """evaluate_family over the primary rows and, apart, over the secondary ones (each row's
    `role`), in the rows' order: each family has its own Holm correction at `alpha`."""
    out: list[dict[str, Any] | None] = [None] * len(rows)
    for role in ("primary", "secondary"):
        idx = [i for i, r in enumerate(rows) if r.get("role", "primary") == role]
        for i, res in zip(idx, evaluate_family([rows[i] for i in idx], alpha)):
            out[i] = res
    return out  # type: ignore[return-value]


def evaluate_family(rows: list[dict[str, Any]], alpha: float = stats.ALPHA) -> list[dict[str, Any]]:
    """Verdicts for one claim's family of tests (all its hypotheses × datasets), with Holm's
    correction across the family (stats.evaluate_family). A comparison in which an arm has no
    trained model (every seed diverged) decides nothing: inconclusive, and it says so."""
    stat_rows = [
        {
            **({"pre": r["pre"]} if "pre" in r else {"d": r["d"]}),
            "direction": r["direction"],
            "threshold": r["threshold"],
            **(
                {}
                if "pre" in r
                else {"overlap": r.get("overlap", 0.0), "equivalence": r.get("equivalence")}
            ),  # fmt: skip
        }
        for r in rows
    ]
    out = []
    for r, st in zip(rows, stats.evaluate_family(stat_rows, alpha)):
        res = {k: v for k, v in r.items() if k not in ("d", "pre")}
        res.update({k: st[k] for k in ("n", "lo", "hi", "p", "p_holm", "verdict", "alpha_test")})
        res.update({k: st[k] for k in ("p_equiv", "p_equiv_holm") if k in st})
        res.update(
            {
                "diff": st["mean"],
                "sd": st["sd"],
                "seeds_needed": st["seeds_needed"],
                "detectable": st["detectable"],
                "family": len(rows),
            }
        )
        if r["untrained"]:
            res["verdict"] = "inconclusive"
            res["note"] = (
                f"no trained model: every seed of {', '.join(r['untrained'])} diverged or did "
                "not train"
            )
            res["seeds_needed"] = res["detectable"] = None
        out.append(res)
    return out


def evaluate_hypothesis(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    """One hypothesis on one dataset, decided alone (a family of one: no correction)."""
    return evaluate_family([hypothesis_values(df, h, dataset)])[0]


def claim_datasets(df: pd.DataFrame) -> list[str]:
    """The classification datasets in a claim's table, in config order of appearance."""
    return [d for d in dict.fromkeys(df["dataset"]) if d != SPECTRAL]


def evaluate_claim(df: pd.DataFrame, claim: dict[str, Any]) -> dict[str, Any]:
    """Every hypothesis on every dataset that has its arms (a hypothesis may name its
    `datasets`), decided together with Holm's correction over the claim's whole family; verdicts
    per dataset (spectral-probe hypotheses count for every dataset) and overall. A hypothesis
    whose arms this config does not run at all is listed as not tested (the report prints it),
    e.g. the CNN hypotheses under the paper profile.

    `df` is the claim's whole tidy table: the CLI, the notebooks and the report all pass it as
    it is, so they print the same verdicts (the lr search's validation rows decide nothing; the
    per-epoch validation loss is kept: best_epoch reads it)."""
    full = df  # a rank test over an activation search reads its candidates' validation rows
    if "split" in df:
        df = df[(df["split"] != "val") | (df["metric"] == "val_loss")]
    datasets = claim_datasets(df)
    primaries = primary_ids(claim)
    rows, not_tested, unevaluated = [], [], []
    for h in claim["hypotheses"]:
        wanted = h.get("datasets") or datasets
        test = testtypes.of(h)
        found, why = 0, ""
        role = "primary" if primaries.get(h.get("part", "")) == h["id"] else "secondary"
        for ds in wanted:
            try:
                whole = test.whole_table or _chooses_on_validation(h)
                row = hypothesis_values(full if whole else df, h, ds)
                rows.append({**row, "role": role})
                found += 1
            except LookupError as e:
                why = str(e).strip("'\"")
                continue  # this dataset has no such arm (e.g. the CNN runs on MNIST-1D only)
        if not found and test.missing:
            not_tested.append(f"{h['text']} ({test.missing})")
        elif not found:
            sels = _arms(h["a"]) + _arms(h.get("b"))
            arms = list(dict.fromkeys(s.get("arm", f"variant {s.get('variant')!r}") for s in sels))
            if h.get("datasets") and not set(h["datasets"]) & set(datasets):
                ds = ", ".join(h["datasets"])
                not_tested.append(f"{h['text']} (dataset {ds} not run by this config)")
            elif all("arm" in s for s in sels) and set(arms) <= set(df["arm"]) and why:
                unevaluated.append(f"{h['text']} ({why})")  # the arms ran; something else lacks
            else:
                not_tested.append(f"{h['text']} (arms {', '.join(arms)} not run by this config)")
    if not rows:
        raise ValueError(
            "No hypothesis of this claim in config/claims.yaml matches the runs of the config: "
            + "; ".join(not_tested + unevaluated)
        )
    alpha = float(claim.get("alpha", stats.ALPHA))
    results = evaluate_families(rows, alpha)
    # the claim's verdict: its (first) source's primary, per dataset and over the datasets
    first = next(iter(claim.get("parts") or {"": ""}))
    main = [r for r in results if r["role"] == "primary" and (r.get("part") or "") == first]
    by_dataset, decided_by = {}, {}
    for ds in datasets:
        rs = [r for r in main if r["dataset"] in (ds, SPECTRAL)]
        if rs:
            by_dataset[ds] = stats.combine([r["verdict"] for r in rs])
            decided_by[ds] = rs[0]["id"]
    verdict = stats.combine([r["verdict"] for r in main]) if main else "inconclusive"
    if unevaluated:  # a test that ran but could not be evaluated supports nothing
        by_dataset = {ds: _at_most_open(v) for ds, v in by_dataset.items()}
        verdict = _at_most_open(verdict)
    return {
        "hypotheses": results,
        "parts": part_verdicts(results, claim.get("parts", {}), datasets),
        "by_dataset": by_dataset,
        "decided_by": decided_by,
        "verdict": verdict,
        "decided_by_overall": main[0]["id"] if main else "",
        "not_tested": not_tested,
        "unevaluated": unevaluated,
        "alpha": alpha,
        "family": len(results),
        # tests per Holm family: the hypotheses, and the equivalence tests (TOST) beside them
        "families": {
            role: sum((1 + bool(r.get("equivalence"))) for r in results if r["role"] == role)
            for role in ("primary", "secondary")
        },
    }


def _chooses_on_validation(h: dict[str, Any]) -> bool:
    """A side picks its arm by validation accuracy: it reads the lr search's val_acc rows."""
    return any((h.get(k) or {}).get("of") in ("best_val", "worst_val") for k in ("a", "b"))


def _at_most_open(verdict: str) -> str:
    """A claim's verdict when one of its tests could not be evaluated: a supported claim is
    not supported on the tests that happened to run (a contradiction found stays one)."""
    return "inconclusive" if verdict == "supported" else verdict


def part_verdicts(
    results: list[dict[str, Any]], parts: dict[str, str], datasets: list[str]
) -> list[dict[str, Any]]:
    """One verdict per source of a claim with parts (per dataset and overall): its primary
    hypothesis's, so that sources predicting opposite outcomes are not blended into one."""
    out = []
    for pid, text in parts.items():
        rs = [r for r in results if r.get("part") == pid and r["role"] == "primary"]
        if not rs:
            continue
        by_ds = {}
        for ds in datasets:
            d = [r for r in rs if r["dataset"] in (ds, SPECTRAL)]
            if d:
                by_ds[ds] = stats.combine([r["verdict"] for r in d])
        out.append(
            {
                "part": pid,
                "text": text,
                "verdict": stats.combine([r["verdict"] for r in rs]),
                "by_dataset": by_ds,
                "decided_by": rs[0]["id"],
            }
        )
    return out
