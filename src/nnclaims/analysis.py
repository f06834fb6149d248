"""Numbers the notebooks and the report quote: tables, formatted hypotheses, the setup in
words (nnclaims.describe) and the JSON the report reads. Selections live in
nnclaims.selection and verdicts in nnclaims.verdicts; both are re-exported here, so a
notebook needs `analysis` only.

Notebooks call these and draw; they compute nothing the report depends on by themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import testtypes, verdicts

# re-exported: a notebook needs `analysis` only
from .describe import describe_setup  # noqa: F401
from .io import write_json
from .labels import label
from .selection import (  # noqa: F401
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
from .verdicts import (  # noqa: F401
    claim_datasets,
    evaluate_claim,
    evaluate_family,
    evaluate_hypothesis,
    hypothesis_values,
)


def load_claims(path: str | os.PathLike, alpha: float | None = None) -> dict[str, Any]:
    """config/claims.yaml, checked against its schema (nnclaims.claims); `alpha`: the familywise
    level of each claim's Holm families (default stats.ALPHA; config `familywise: report`
    divides it by the number of claims)."""
    from . import claims

    doc = claims.load(path)
    if alpha is not None:
        doc = {cid: {**c, "alpha": float(alpha)} for cid, c in doc.items()}
    return doc


def load_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    with open(path) as f:
        return json.load(f)


def arm_table(df: pd.DataFrame) -> dict[str, Any]:
    """The standard numbers table of an arm comparison: per arm (and size, where a claim has
    several), the final test accuracy (end metric, mean ± SD over seeds) and the learning rate
    it trained with, per dataset. Arms in order of appearance; "—" where a dataset lacks one."""
    from .plotting import label

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


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_pm(mean: float, sd: float, digits: int = 1, sig: int | None = None) -> str:
    """ "mean ± sd" with `digits` decimals; or, for losses, the mean to `sig` significant digits
    and the SD to the same decimal place: plain from 0.01 to 1000, else with one shared power
    of ten, "(3.11 ± 0.59) × 10⁻⁴" (%g mixed "0.0378" and "4.24e-05" in one column)."""
    if sig is None or not np.isfinite(mean) or mean == 0:
        f = (lambda v: f"{v:.{sig}g}") if sig else (lambda v: f"{v:.{digits}f}")
        return f(mean) if not np.isfinite(sd) else f"{f(mean)} ± {f(sd)}"
    e = int(np.floor(np.log10(abs(mean))))
    if -2 <= e < 3:
        d = max(0, sig - 1 - e)
        return f"{mean:.{d}f}" + (f" ± {sd:.{d}f}" if np.isfinite(sd) else "")
    power = "10" + str(e).translate(SUPERSCRIPT)
    m, d = mean / 10.0**e, sig - 1
    if not np.isfinite(sd):
        return f"{m:.{d}f} × {power}"
    return f"({m:.{d}f} ± {sd / 10.0**e:.{d}f}) × {power}"


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_num(x: float, digits: int = 2, sign: str = "") -> str:
    """`digits` decimals (`sign` "+": always signed), never a negative zero: a number that
    rounds to zero prints unsigned ("0.00" for −0.003)."""
    s = f"{x:{sign}.{digits}f}"
    return f"{0.0:.{digits}f}" if float(s) == 0 else s


def fmt_hypothesis(r: dict[str, Any], digits: int = 2) -> dict[str, Any]:
    ci = (
        "n/a"
        if not np.isfinite(r["lo"])
        else f"[{fmt_num(r['lo'], digits)}, {fmt_num(r['hi'], digits)}]"
    )
    sign = ">" if r["direction"] == "greater" else "<"
    d = 1 if r.get("metric") in ("test_acc", "val_acc", "best_epoch", "epochs_to_loss") else 3
    ours = f"{r['a_mean']:.{d}f}" + ("" if r["b_mean"] is None else f" vs {r['b_mean']:.{d}f}")
    kind = testtypes.get(r.get("test") or testtypes.PAIRED)  # its statistic and how it reads
    test = kind.test_column(r, sign)
    said = None if kind.measured is None else kind.measured(r)
    if said is not None:
        ours = said
        if kind.says_note:  # the measured text gives the note: not again under "To decide"
            r = {**r, "note": ""}
    if r.get("a_last") is not None:
        b_last = "" if r.get("b_last") is None else f" vs {r['b_last']:.{d}f}"
        ours += f" (last epoch: {r['a_last']:.{d}f}{b_last})"
    power = ""
    if r["verdict"] == "inconclusive" and r.get("detectable") is not None:
        need = r.get("seeds_needed")
        t = float(r["threshold"])
        gap = "|d|" if t == 0 else f"|d {'+' if t < 0 else '−'} {abs(t):g}|"
        power = (
            f"{need} seeds" if need is not None else "more than 1000 seeds"
        ) + f" (now detects {gap} ≥ {r['detectable']:.{digits}f})"
    above = r.get("share_above")
    if above and above[1]:
        k, n, lo, hi = above
        p_ab = f"P(a > b) {k}/{n} seeds [{lo:.2f}, {hi:.2f}]"
        r = {**r, "note": f"{r.get('note', '')}; {p_ab}" if r.get("note") else p_ab}
    return {
        "id": r["id"],
        "text": r["text"],
        "part": r.get("part") or "",
        "dataset": r.get("dataset") or "",
        "source": r.get("source", ""),
        "ours": ours,
        "test": test,
        "diff": fmt_num(r["diff"], digits),
        "ci": ci,
        "p": fmt_p(r.get("p", np.nan)),
        "p_holm": fmt_p(r.get("p_holm", np.nan)),
        "n": r["n"],
        "verdict": r["verdict"],
        "role": r.get("role", "primary"),
        "to_decide": power,
        "note": r.get("note", ""),
    }


def test_notes(results: list[dict[str, Any]]) -> list[str]:
    """What each test type a claim uses means, beyond the paired t-test (Typst markup), once."""
    names = dict.fromkeys(r.get("test") or testtypes.PAIRED for r in results)
    return [testtypes.get(n).note for n in names if testtypes.get(n).note]


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


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def unit(r: dict[str, Any]) -> str:
    """What a test's estimate measures, in words (the summary figure groups rows by it)."""
    test = r.get("test") or testtypes.PAIRED
    if test == "kendall":
        return "Kendall τ-b between two rankings"
    if test == "knee":
        return "slope ratio past / before the knee"
    if test in ("ranksum",):
        return "AUC between two groups of functions"
    if test == "enrichment":
        return "odds ratio among the best tenth"
    names = {"test_acc": "test accuracy", "val_acc": "validation accuracy",
             "fit_acc": "training-set accuracy", "loss_auc": "training-loss area",
             "dft_ratio": "|DFT| ratio"}  # fmt: skip
    what = names.get(r.get("metric", ""), r.get("metric", ""))
    points = r.get("metric") in ("test_acc", "val_acc", "fit_acc")
    return f"{what} difference (points)" if points else f"{what} difference"


def archive_counts(code: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """Of per-seed code records: (copied from the seed archive, all, the short commits that
    trained the copied ones)."""
    copied = [g for g in code if g.get("archived_from")]
    return len(copied), len(code), sorted({str(g.get("commit", "?"))[:7] for g in copied})


def archived_origin(run_list: list[dict[str, Any]], kind: str) -> tuple[int, int, list[str]]:
    """Where the seeds of a kind's runs came from (archive_counts), from the runs table's
    per-seed `code`."""
    return archive_counts([g for r in run_list if r["kind"] == kind for g in r.get("code", [])])


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
    (nnclaims.tuning)."""
    from . import tuning

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
