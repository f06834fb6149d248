"""Numbers the notebooks and the report quote: tables, formatted hypotheses, the setup in
words (nnclaims.report.describe) and the JSON the report reads. Selections live in
nnclaims.stats.selection and verdicts in nnclaims.stats.verdicts; both are re-exported here, so a
notebook needs `analysis` only.

Notebooks call these and draw; they compute nothing the report depends on by themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from nnclaims.core.files import write_json

# re-exported: a notebook needs `analysis` only
from nnclaims.report.describe import describe_setup  # noqa: F401
from nnclaims.report.diagnostics import diverged, late_stops, lr_edges, sanity  # noqa: F401
from nnclaims.report.formats import (  # noqa: F401
    SUPERSCRIPT,
    _finite,
    fmt_hypothesis,
    fmt_num,
    fmt_p,
    fmt_pm,
    test_notes,
    unit,
)
from nnclaims.stats import verdicts
from nnclaims.stats.selection import (  # noqa: F401
    CHANCE,
    END_METRICS,
    END_WINDOW,
    SPECTRAL,
    UNTRAINED_MARGIN,
    best_epochs,
    levels_read,
    per_seed,
    select,
    select_rows,
    summary,
    untrained,
)
from nnclaims.stats.verdicts import (  # noqa: F401
    claim_datasets,
    evaluate_claim,
    evaluate_family,
    evaluate_hypothesis,
    hypothesis_values,
)


def load_claims(
    path: str | os.PathLike, alpha: float | None = None, decisions: str | os.PathLike = ""
) -> dict[str, Any]:
    """config/claims.yaml, checked against its schema (nnclaims.plan.claims); `alpha`: the
    familywise level of each claim's Holm families (default stats.ALPHA; config `familywise: report`
    divides it by the number of claims); `decisions`: a claim's design state after its last look
    (nnclaims.core.paths.claim_design), which evaluate_claim then applies to that claim."""
    from nnclaims.plan import claims

    doc = claims.load(path)
    if alpha is not None:
        doc = {cid: {**c, "alpha": float(alpha)} for cid, c in doc.items()}
    if decisions and Path(decisions).exists():
        state = json.loads(Path(decisions).read_text())
        doc[state["claim"]] = {**doc[state["claim"]], "decisions": state}
    return doc


def load_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    with open(path) as f:
        return json.load(f)


def arm_table(df: pd.DataFrame) -> dict[str, Any]:
    """The standard numbers table of an arm comparison: per arm (and size, where a claim has
    several), the final test accuracy (end metric, mean ± SD over seeds) and the learning rate
    it trained with, per dataset. Arms in order of appearance; "—" where a dataset lacks one."""
    from nnclaims.report.plotting import label

    cls = df[(df["split"] != "val") & (df["dataset"] != SPECTRAL)]
    datasets = claim_datasets(cls)
    sized = cls.groupby("arm")["size"].nunique().max() > 1  # an arm at several sizes
    keys = ["arm", "size"] if sized else ["arm"]
    s = summary(cls, "test_acc", ["dataset", *keys]).set_index(["dataset", *keys])
    lrs = cls[cls["metric"] == "test_acc"].groupby(["dataset", *keys])["lr"].first()
    rows = []
    for key in dict.fromkeys(zip(*(cls[k] for k in keys))):
        row = [label(key[0]) + (f", {int(key[1])} layers" if sized else "")]
        for ds in datasets:
            k = (ds, *key)
            if k in s.index:
                row += [fmt_pm(s.loc[k, "mean"], s.loc[k, "sd"]), f"{lrs[k]:g}"]
            else:
                row += ["—", "—"]
        rows.append(row)
    cols = [c for ds in datasets for c in (f"{ds}: test acc. (%)", f"{ds}: lr")]
    return {"columns": ["arm", *cols], "rows": rows}


def headline(claim: dict[str, Any], evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the report's opening table for one claim: per source (its `parts`, or the claim)
    and dataset, the source's primary hypothesis with the source's number, ours, the CI and its
    verdict, which is the claim's verdict for that source on that dataset."""
    parts = claim.get("parts") or {"": ""}
    rows = []
    for part, main in verdicts.primary_ids(claim).items():
        h = next(h for h in claim["hypotheses"] if h["id"] == main)
        for r in evaluation["hypotheses"]:
            if r["id"] != main:
                continue
            f = fmt_hypothesis(r)
            rows.append(
                {
                    "dataset": r["dataset"],
                    "part": parts.get(part, ""),
                    "hypothesis": h["text"],
                    "label": h.get("label", h["text"]),
                    "source": h.get("source", ""),
                    "ours": f["ours"],
                    "ci": f["ci"],
                    "p_holm": f["p_holm"],
                    "verdict": r["verdict"],
                    # the summary figure's numbers: the estimate, its interval and the margin
                    "estimate": _finite(r.get("diff")),
                    "lo": _finite(r.get("lo")),
                    "hi": _finite(r.get("hi")),
                    "threshold": float(r["threshold"]),
                    "unit": unit(r),
                }
            )
    return rows


def archive_counts(code: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """Of per-seed code records: (copied from the seed archive, all, the short commits that
    trained the copied ones)."""
    copied = [g for g in code if g.get("archived_from")]
    return len(copied), len(code), sorted({str(g.get("commit", "?"))[:7] for g in copied})


def archived_origin(run_list: list[dict[str, Any]], kind: str) -> tuple[int, int, list[str]]:
    """Where the seeds of a kind's runs came from (archive_counts), from the runs table's
    per-seed `code`."""
    return archive_counts([g for r in run_list if r["kind"] == kind for g in r.get("code", [])])


def write_numbers(
    path: str | os.PathLike,
    claim_id: str,
    claim: dict[str, Any],
    setup: str,
    table: dict[str, Any],
    evaluation: dict[str, Any],
    outcome: str,
    figures: list[dict[str, str]],
    notebook: str,
    extra: dict[str, Any] | None = None,
    df: pd.DataFrame | None = None,
) -> None:
    """The JSON the report reads for one claim: everything it prints about the claim. Every
    claim whose primary tests compare two searched arms also gets the tuning-budget table
    (nnclaims.stats.tuning)."""
    from nnclaims.stats import tuning

    extra = dict(extra or {})
    budget = None if df is None else tuning.budget_table(df, evaluation, CHANCE)
    if budget is not None:
        extra["tables"] = [*extra.get("tables", []), budget]
    write_json(
        {
            "claim": claim_id,
            "title": claim["title"],
            "statement": claim["statement"],
            "source": claim["source"],
            "published": claim.get("published", []),
            "setup": setup,
            "differences": claim.get("differences", ""),
            "after_results": claim.get("after_results", []),
            "diverged": "none" if df is None else diverged(df),
            "lr_edges": [] if df is None else lr_edges(df),
            "late_stops": [] if df is None else late_stops(df),
            # the config keys every number and figure of this claim depends on
            "config_keys": ["datasets", "seeds", "train", "mixes", "sets", f"claims.{claim_id}"],
            "table": table,
            "hypotheses": [fmt_hypothesis(r) for r in evaluation["hypotheses"]],
            "test_notes": test_notes(evaluation["hypotheses"]),
            "verdict": evaluation["verdict"],
            "decided_by": evaluation.get("decided_by_overall", ""),
            "family": evaluation.get("family"),
            "families": evaluation.get("families", {}),
            "design": evaluation.get("design"),  # the look it reached and why it stopped
            "verdicts_by_dataset": evaluation.get("by_dataset", {}),
            "parts": evaluation.get("parts", []),
            "not_tested": evaluation.get("not_tested", []),
            "unevaluated": evaluation.get("unevaluated", []),
            "headline": headline(claim, evaluation),
            "outcome": outcome,
            "figures": figures,
            "notebook": notebook,
            "extra": extra,
        },
        Path(path),
    )


def _grouped(hs: list[dict[str, Any]], verdict: str) -> list[str]:
    """The hypotheses with this verdict, each once, with the datasets it has it on."""
    by: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    for h in hs:
        if h["verdict"] == verdict:
            ds = h.get("dataset")
            by.setdefault(h["id"], []).extend([] if not ds or ds == SPECTRAL else [ds])
            text[h["id"]] = h["text"]
    return [text[i] + (f" ({', '.join(d)})" if d else "") for i, d in by.items()]


def outcome_sentence(evaluation: dict[str, Any]) -> str:
    """Plain words: which parts held, which did not (a hypothesis once, with its datasets)."""
    held = _grouped(evaluation["hypotheses"], "supported")
    failed = _grouped(evaluation["hypotheses"], "contradicted")
    open_ = _grouped(evaluation["hypotheses"], "inconclusive")
    s = []
    if held:
        s.append("Our data support that " + "; and that ".join(held) + ".")
    if failed:
        s.append("They contradict that " + "; and that ".join(failed) + ".")
    if open_:
        s.append("They cannot decide whether " + "; or whether ".join(open_) + ".")
    return " ".join(s)
