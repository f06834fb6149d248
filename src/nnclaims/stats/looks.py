"""A claim's tests under its config's design: which look decided each one, with what.

Without `decide` the design is one look, and the claim's Holm families (nnclaims.stats.verdicts)
decide at it. With `decide: {looks: [n_1, …, n_K]}` each look re-evaluates the claim on the first
n_k seeds and runs one step of the group-sequential graphical Holm procedure per family
(nnclaims.stats.sequential.look): each hypothesis × dataset is one test, and a hypothesis with an
equivalence margin adds its TOST as a second node of the same family, as in the fixed design. A
test whose t-test crosses is supported or contradicted by the side its mean lies on; one whose
TOST crosses first is equivalent; either way its numbers are frozen at that look (the other node
retires, keeping its weight: conservative). A test whose n is not the look's seed count (over
a search's candidates) has its data complete: its statistic is the same at every look, so it is
tested at its whole weight of α, as a one-look test (sequential.level). A claim goes on to the
next look while a test is open that more seeds can change (its n is the look's seed count, and
its arms trained).

`look_state` writes the state after a look (JSON, nnclaims.core.paths.look_file); `apply` puts
a state's decisions over an evaluation, so the notebooks, the report and the CLI print them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from nnclaims.stats import sequential
from nnclaims.stats.paired import decide
from nnclaims.stats.power import detectable_effect

FIXED = "fixed"
SEQUENTIAL = "sequential"


def key(r: dict[str, Any]) -> str:
    """A test's name: hypothesis id and dataset."""
    return f"{r['id']}|{r.get('dataset') or ''}"


def _nodes(r: dict[str, Any]) -> list[str]:
    k = key(r)
    return [f"{k}|t"] + ([f"{k}|equiv"] if "p_equiv" in r else [])


def _finite(x: Any) -> float:
    return float(x) if x is not None and np.isfinite(x) else float("nan")


def rci(r: dict[str, Any], nominal: float) -> tuple[float, float]:
    """The repeated confidence interval at a look: the row's 95 % t-interval rescaled to the
    nominal level, mean ± t_{n−1}(1 − nominal/2) · SE, SE = (hi − lo) / (2 t_{n−1}(0.975)) (the
    corrected SE on digits, as the row's interval)."""
    lo, hi, n = _finite(r.get("lo")), _finite(r.get("hi")), int(r.get("n") or 0)
    if n < 2 or not (np.isfinite(lo) and np.isfinite(hi)) or not nominal > 0:
        return float("nan"), float("nan")
    se = (hi - lo) / (2 * sps.t.ppf(0.975, n - 1))
    half = sps.t.isf(nominal / 2, n - 1) * se
    mid = _finite(r.get("diff"))
    return float(mid - half), float(mid + half)


def _grows(r: dict[str, Any], n_look: int) -> bool:
    """More seeds can change this test: it counts seeds, and its arms trained."""
    return int(r.get("n") or 0) == n_look and not r.get("untrained")


def fixed_state(evaluation: dict[str, Any], seeds: dict[str, int]) -> dict[str, Any]:
    """One look: the evaluation's Holm verdicts are the decisions."""
    tests = {
        key(r): {"look": 1, "verdict": r["verdict"], "decided": r["verdict"] != "inconclusive"}
        for r in evaluation["hypotheses"]
    }
    return {"design": FIXED, "look": 1, "looks": None, "seeds": seeds,
            "alpha": evaluation["alpha"], "tests": tests, "continue": False,
            "why": "one look: the config declares no further seeds (config `decide`)"}  # fmt: skip


def look_state(
    evaluation: dict[str, Any], looks: list[int], k: int, prev: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The state after look k (1-based) of the declared looks, from the claim's evaluation on
    that look's seeds (verdicts.evaluate_claim) and the state after look k − 1."""
    if prev is not None and (prev["looks"] != list(looks) or prev["look"] != k - 1):
        raise ValueError(
            f"look {k} of {looks} follows the state of look {prev['look']} of {prev['looks']}: "
            "the looks changed between looks; delete the claim's look files to start over"
        )
    alpha = float(evaluation["alpha"])
    design = sequential.Design(tuple(looks), alpha)
    rows = evaluation["hypotheses"]
    n_k = looks[k - 1]
    families: dict[str, dict[str, Any]] = {}
    tests: dict[str, Any] = dict(prev["tests"]) if prev else {}
    for role in ("primary", "secondary"):
        mine = [r for r in rows if r.get("role", "primary") == role]
        nodes = [x for r in mine for x in _nodes(r)]
        if not nodes:
            continue
        if prev and role in prev["families"]:
            was = prev["families"][role]
            st = sequential.Open(dict(was["weights"]), dict(was["decided"]))
            if set(st.weights) | set(st.decided) | set(was.get("retired", {})) != set(nodes):
                raise ValueError(
                    f"the {role} tests changed between looks ({sorted(nodes)}); a design's "
                    "hypotheses are frozen: delete the claim's look files to start over"
                )
            retired = dict(was.get("retired", {}))
        else:
            st, retired = sequential.start(nodes), {}
        ps = {}
        for r in mine:
            ok = not r.get("untrained")
            ps[f"{key(r)}|t"] = _finite(r.get("p")) if ok else float("nan")
            if "p_equiv" in r:
                ps[f"{key(r)}|equiv"] = _finite(r.get("p_equiv")) if ok else float("nan")
        # a test whose n is not the look's seed count (over a search's candidates, the spectral
        # probe's phase draws after the first look) has its data complete: tested at its weight
        complete = {x for r in mine if not _grows(r, n_k) for x in _nodes(r)}
        crossed = dict(sequential.look(st, k - 1, ps, design, complete))
        for r in mine:
            name = key(r)
            t_node, e_node = f"{name}|t", f"{name}|equiv"
            hit = [x for x in (t_node, e_node) if x in crossed]
            if name in tests and tests[name]["decided"]:
                continue  # frozen at its look
            if hit:
                node = hit[0]  # the t-test first, as in the fixed design
                w = crossed[node]
                verdict = "equivalent" if node == e_node else decide(
                    r["diff"], 0.0, r["direction"], r["threshold"], alpha)  # fmt: skip
                if r.get("supports_only") and verdict == "contradicted":
                    verdict = "inconclusive"  # its p tests one side only
                for other in (t_node, e_node):  # the row is decided: its other node retires
                    if other != node and other in st.weights:
                        retired[other] = st.weights.pop(other)
                nominal = sequential.level(design, w, k - 1, node in complete)
                tests[name] = _record(r, k, n_k, verdict, True, w, nominal, node, looks)
            else:
                w = st.weights.get(t_node, 0.0)
                nominal = sequential.level(design, w, k - 1, t_node in complete) if w > 0 else 0.0
                rec = _record(r, k, n_k, "inconclusive", False, w, nominal, t_node, looks)
                rec["grows"] = _grows(r, n_k)
                if w > 0 and np.isfinite(_finite(r.get("sd"))):
                    ov = float(r.get("overlap") or 0)
                    det = detectable_effect(int(r["n"]), float(r["sd"]), nominal, overlap=ov)
                    rec["row"]["detectable"] = float(det)
                tests[name] = rec
        families[role] = {"weights": st.weights, "decided": st.decided, "retired": retired}
    open_ = [n for n, t in tests.items() if not t["decided"]]
    growing = [n for n in open_ if tests[n].get("grows")]
    last = k == len(looks)
    if last or not growing:
        why = ("it is the last look" if last else
               "every test is decided" if not open_ else
               f"no open test can gain from more seeds ({', '.join(open_)})")  # fmt: skip
        go = False
    else:
        why = (f"{len(growing)} open test{'s' * (len(growing) > 1)} more seeds can decide "
               f"({', '.join(growing)}): look {k + 1} at {looks[k]} seeds")  # fmt: skip
        go = True
    return {"design": SEQUENTIAL, "look": k, "looks": list(looks), "seeds": n_k,
            "alpha": alpha, "families": families, "tests": tests, "continue": go,
            "why": why}  # fmt: skip


def _record(r, k, n_k, verdict, decided, weight, nominal, node, looks) -> dict[str, Any]:
    lo, hi = rci(r, nominal)
    row = {x: v for x, v in r.items() if x not in ("seeds_needed", "detectable")}
    return {"look": k, "seeds": n_k, "verdict": verdict, "decided": decided,
            "weight": weight, "nominal": nominal, "node": node.rsplit("|", 1)[1],
            "rci": [lo, hi], "row": {**row, "detectable": None}}  # fmt: skip


def apply(results: list[dict[str, Any]], state: dict[str, Any]) -> list[dict[str, Any]]:
    """An evaluation's rows with the design's decisions: each test's verdict and its numbers at
    the look that decided it (or the last look reached), and `design`, what the report prints
    about how it was decided. Under the fixed design the numbers are the evaluation's own."""
    out = []
    for r in results:
        t = state["tests"].get(key(r))
        if t is None:
            out.append(r)
            continue
        if state["design"] == FIXED:
            out.append({**r, "design": {"kind": FIXED, "look": 1, "looks": None}})
            continue
        new = {**t["row"], "role": r.get("role", "primary"), "verdict": t["verdict"]}
        new["seeds_needed"] = None  # the design's looks, not a seed count, decide it
        new["design"] = {"kind": SEQUENTIAL, "look": t["look"], "looks": state["looks"],
                         "decided": t["decided"], "nominal": t["nominal"], "node": t["node"],
                         "weight": t["weight"], "rci": t["rci"], "p": t["row"].get("p"),
                         "p_equiv": t["row"].get("p_equiv")}  # fmt: skip
        out.append(new)
    return out
