"""How a claim is decided: every hypothesis of config/claims.yaml on every dataset that has its
arms, paired by seed (nnclaims.stats.paired). Each source of a claim (each of its `parts`, or the
claim when it has none) names one primary hypothesis before the data; the primary's verdict is the
claim's verdict for that source. The primaries are one Holm family, the other (secondary)
hypotheses another: a secondary test qualifies the verdict in the report and never overturns it.
`evaluate_claim` is the one function the notebooks, the report and the CLI call.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nnclaims.core import testtype
from nnclaims.stats import paired as stats
from nnclaims.stats.selection import SPECTRAL
from nnclaims.stats.values import (  # noqa: F401 (the report reads them as verdicts.<name>)
    _arms,
    chosen_on_validation,
    hypothesis_values,
    paired_values,
    ranking_values,
    short,
    side,
)


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
        res.update({k: st[k] for k in ("p_equiv", "p_equiv_holm", "supports_only") if k in st})
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
        test = testtype.of(h)
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
    design = claim.get("decisions")  # the design's state after the last look (stats.looks)
    if design:
        from nnclaims.stats.looks import apply

        results = apply(results, design)
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
        "design": design and {k: design[k] for k in ("design", "look", "looks", "seeds", "why")},
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
