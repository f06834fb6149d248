"""How the report and the notebooks print numbers: mean ± SD, p-values, numbers without a
negative zero, one hypothesis's row of a test table, and what a test's estimate measures."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnclaims.core import testtype

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
    kind = testtype.get(r.get("test") or testtype.PAIRED)  # its statistic and how it reads
    test = kind.test_column(r, sign)
    said = None if kind.measured is None else kind.measured(r)
    if said is not None:
        ours = said
        if kind.says_note:  # the measured text gives the note: not again under "To decide"
            r = {**r, "note": ""}
    if r.get("a_last") is not None:
        b_last = "" if r.get("b_last") is None else f" vs {r['b_last']:.{d}f}"
        ours += f" (last epoch: {r['a_last']:.{d}f}{b_last})"
    t = float(r["threshold"])
    gap = "|d|" if t == 0 else f"|d {'+' if t < 0 else '−'} {abs(t):g}|"
    power = ""
    looked = r.get("design", {}).get("kind") == "sequential"  # its looks say what decides it
    if r["verdict"] == "inconclusive" and r.get("detectable") is not None and not looked:
        need = r.get("seeds_needed")
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
        "p_holm": fmt_p(r.get("p_holm", np.nan))
        if "nominal" not in r.get("design", {})
        else p_against_level(r["design"]),
        "n": r["n"],
        "verdict": r["verdict"],
        "role": r.get("role", "primary"),
        "to_decide": power,
        "how": how_decided(r, gap, digits),
        "note": r.get("note", ""),
    }


def p_against_level(d: dict[str, Any]) -> str:
    """A test's p at the look it stopped at (or its last) against its nominal level there, both
    to two significant digits (a first look's level can be 10⁻⁵)."""
    p = d["p"] if d["node"] == "t" else d["p_equiv"]
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.2g} {'≤' if d['decided'] else '>'} {d['nominal']:.2g}"


def how_decided(r: dict[str, Any], gap: str, digits: int = 2) -> str:
    """How the config's design decided a test (nnclaims.stats.looks): at which look, with how
    many seeds, against which level; the repeated CI under a design with looks."""
    d = r.get("design")
    if not d:
        return ""
    if d["kind"] == "fixed":
        state = "open" if r["verdict"] == "inconclusive" else "decided"
        return f"{state} at the one look (n = {r['n']}, Holm)"
    k, looks = d["look"], d["looks"]
    lo, hi = d["rci"]
    ci = f"; repeated CI [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]" if np.isfinite(lo) else ""
    test = "TOST " if d["node"] == "equiv" else ""
    if d["decided"]:
        return f"stopped at look {k} of {len(looks)} (n = {r['n']}): {test}p ≤ its level{ci}"
    det = r.get("detectable")
    detects = f"; detects {gap} ≥ {det:.{digits}f}" if det is not None and np.isfinite(det) else ""
    where = (
        "the last look" if k == len(looks) else f"look {k} of {len(looks)}, where its claim stopped"
    )
    return f"inconclusive at n = {r['n']} ({where}){detects}{ci}"


def test_notes(results: list[dict[str, Any]]) -> list[str]:
    """What each test type a claim uses means, beyond the paired t-test (Typst markup), once."""
    names = dict.fromkeys(r.get("test") or testtype.PAIRED for r in results)
    return [testtype.get(n).note for n in names if testtype.get(n).note]


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def unit(r: dict[str, Any]) -> str:
    """What a test's estimate measures, in words (the summary figure groups rows by it)."""
    test = r.get("test") or testtype.PAIRED
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
