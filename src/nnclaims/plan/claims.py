"""The claims registry: config/claims.yaml (what each source says, the hypotheses that decide
it, the notebook that draws it), checked against its schema and against the runs the config
makes, before any job starts.

A claim is data. The config's `claims.<id>` says what to train (arms, sizes, an IMP design); the
entry `<id>` in config/claims.yaml says what to test. A hypothesis that names an arm, size,
level or frequency band the config does not run, or a dataset nnclaims does not know, is an error
naming it here, not a "not tested" line in a report that took ten minutes to make (a known
dataset the config does not run leaves a dataset-bound hypothesis not tested); a config that
leaves one out on purpose (e.g. the paper profile runs no 1-D CNN) lists its id under
`claims.<id>.untested`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from nnclaims import kinds
from nnclaims.core import testtype
from nnclaims.core.hparams import RunSpec
from nnclaims.core.testtype import ClaimsError  # noqa: F401 (raised here; callers catch claims.ClaimsError)
from nnclaims.plan.config import nonfinite_problem, read_yaml, schema_problem
from nnclaims.plan.runs import design

CLAIMS_FILE = "config/claims.yaml"
SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "claims.schema.yaml"
CONFIG_SCHEMA = SCHEMA.with_name("config.schema.yaml")
DEFAULT_NOTEBOOK = "workflow/notebooks/compare.ipynb"  # draws any arm comparison
DEFAULT_FIGURES = ("accuracy", "differences")  # what that notebook writes
CAPTIONS = "workflow/report"  # <claim>.rst if there is one, else claim.rst


def load(path: str | os.PathLike = CLAIMS_FILE) -> dict:
    """config/claims.yaml, validated against workflow/schemas/claims.schema.yaml."""
    doc = read_yaml(path)
    problem = nonfinite_problem(doc) or schema_problem(doc, yaml.safe_load(SCHEMA.read_text()))
    if problem:
        raise ClaimsError(f"{path}: {problem}")
    for cid, entry in doc.items():
        for h in entry["hypotheses"]:
            try:
                testtype.of(h)
            except ClaimsError as e:
                raise ClaimsError(f"{path}: {cid}, hypothesis {h['id']}: {e}") from None
            problem = _degenerate(h)
            if problem:
                raise ClaimsError(f"{path}: {cid}, hypothesis {h['id']}: {problem}")
        marked = [h.get("part", "") for h in entry["hypotheses"] if h.get("primary")]
        twice = sorted({p for p in marked if marked.count(p) > 1})
        if twice:
            where = f"part {twice[0]}" if twice[0] else "the claim"
            raise ClaimsError(
                f"{path}: {cid}: two hypotheses of {where} say primary: true; a source has one "
                "primary hypothesis (its verdict is the claim's), the others are secondary"
            )
        ids = [h["id"] for h in entry["hypotheses"]]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ClaimsError(f"{path}: {cid}: hypothesis id {', '.join(dup)} used twice")
        if "figures" in entry and "notebook" not in entry:
            raise ClaimsError(
                f"{path}: {cid}.figures lists the figures of the claim's own notebook: name it "
                f"under {cid}.notebook, or drop figures to use {DEFAULT_NOTEBOOK}"
            )
        if "notebook" in entry and "figures" not in entry:
            raise ClaimsError(f"{path}: {cid}.notebook: list the figures it writes under figures")
    return doc


def _degenerate(h: dict[str, Any]) -> str | None:
    """Why a hypothesis cannot fail, whatever the runs say (a side compared with itself, arm
    groups that share an arm), or None. Such a test would report 0.00 [0.00, 0.00] and decide."""
    a, b = h.get("a"), h.get("b")
    for name, sel in (("a", a), ("b", b)):
        if isinstance(sel, dict) and "minus" in sel:
            if {k: v for k, v in sel.items() if k != "minus"} == sel["minus"]:
                return f"{name}.minus selects what {name} selects: the change is 0 for every seed"
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return None
    if a == b:
        return "a and b select the same runs, so a − b is 0 for every seed; compare two arms"
    rest = ("arm", "arms", "of")
    if {k: v for k, v in a.items() if k not in rest} == {
        k: v for k, v in b.items() if k not in rest
    }:
        shared = set(a.get("arms", [a.get("arm")])) & set(b.get("arms", [b.get("arm")])) - {None}
        if shared:
            return (
                f"a and b both include arm {sorted(shared)[0]}, so the comparison is decided by "
                "the arm lists, not by the runs; give each side its own arms"
            )
    return None


def notebook(entry: dict[str, Any]) -> str:
    return entry.get("notebook", DEFAULT_NOTEBOOK)


def figures(entry: dict[str, Any], kinds_run: set[str] | None = None) -> list[str]:
    """The figures a claim's notebook writes; one listed under `figures_when` only where the
    claim's runs (`kinds_run`: their kinds) include its kind."""
    when = entry.get("figures_when", {})
    names = list(entry.get("figures", DEFAULT_FIGURES))
    return [f for f in names if f not in when or kinds_run is None or when[f] in kinds_run]


def caption(cid: str, root: str | os.PathLike = ".") -> str:
    """The Snakemake-report caption of a claim's figures (relative to workflow/rules/)."""
    own = Path(root, CAPTIONS, f"{cid}.rst")
    return f"../report/{cid}.rst" if own.exists() else "../report/claim.rst"


def check(doc: dict[str, Any], config: dict[str, Any], plan: Any) -> None:
    """Every claim the config runs has an entry, and each of its hypotheses selects runs the
    config makes (or is listed under `claims.<id>.untested`). Raises ClaimsError naming it."""
    for cid, c in config["claims"].items():
        if cid not in doc:
            raise ClaimsError(
                f"claims.{cid}: no entry {cid} in {CLAIMS_FILE}; add its title, statement, source "
                "and hypotheses there (README: Add a claim)"
            )
        runs = [plan.runs[r] for r in plan.claim_runs.get(cid, [])]
        ids = {h["id"] for h in doc[cid]["hypotheses"]}
        skip = set(c.get("untested", []))
        if skip - ids:
            raise ClaimsError(
                f"claims.{cid}.untested: no hypothesis {', '.join(sorted(skip - ids))} in "
                f"{CLAIMS_FILE} {cid} (its ids: {', '.join(sorted(ids))})"
            )
        parts = doc[cid].get("parts", {})
        for h in doc[cid]["hypotheses"]:
            if parts and h.get("part") not in parts:
                raise ClaimsError(
                    f"{CLAIMS_FILE}: {cid}, hypothesis {h['id']}: part {h.get('part')!r} is not "
                    f"one of the claim's parts ({', '.join(parts)})"
                )
            if "part" in h and not parts:
                raise ClaimsError(
                    f"{CLAIMS_FILE}: {cid}, hypothesis {h['id']}: part {h['part']!r}, but "
                    f"{cid} defines no parts"
                )
            if h["id"] not in skip:
                _check_hypothesis(cid, h, runs, imp=design(c) == "imp")


def known_datasets() -> list[str]:
    """The dataset names the config schema allows (embedded and downloaded)."""
    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())
    return schema["properties"]["datasets"]["items"]["enum"]


def _check_hypothesis(cid: str, h: dict[str, Any], runs: list[RunSpec], imp: bool) -> None:
    where = f"{CLAIMS_FILE}: {cid}, hypothesis {h['id']}"
    test = testtype.check_metric(where, h)
    if not test.selects_arms:  # it reads its kind's rows its own way (a search, a sweep)
        test.check(where, cid, h, runs)
        return
    for side in ("a", "b"):
        if any(k in (h.get(side) or {}) for k in ("with", "without")):
            raise ClaimsError(
                f"{where}: {side} selects searched functions: give test: ranksum or enrichment"
            )
    probe = h["metric"] == "dft_ratio"
    pool = [s for s in runs if (not kinds.get(s.kind).needs_data) == probe]
    arms = list(dict.fromkeys(a for s in pool for a in kinds.get(s.kind).row_arms(s)))
    sizes = {d for s in pool for d in kinds.get(s.kind).sizes(s)}
    datasets = {s.dataset for s in pool}
    bound = set(h.get("datasets", []))
    if bound and not bound & datasets and bound <= set(known_datasets()):
        return  # e.g. MNIST-1D's own numbers in a digits-only run: the report says not tested
    what = "spectral-probe arms" if probe else "arms"
    sides = [(side, h.get(side)) for side in ("a", "b")]
    sides += [(f"{side}.minus", sel["minus"]) for side, sel in sides if sel and "minus" in sel]
    if test.check is not None:
        test.check(where, cid, h, runs)
    ranked = test.side_key == "variant"
    for side, sel in sides:
        if sel is None:
            continue
        if ranked != ("variant" in sel):
            raise ClaimsError(
                f"{where}: {side} gives "
                + (
                    f"`arm`, but test {test.name} ranks a variant's arms: give `variant`"
                    if ranked
                    else "`variant`, which only test kendall ranks: give one `arm`"
                )
            )
        missing = [] if ranked else [x for x in sel.get("arms", [sel.get("arm")]) if x not in arms]
        if missing:
            raise ClaimsError(
                f"{where}: {side}.arm {missing[0]!r} is not run by the config's claims.{cid} "
                f"(its {what}: {', '.join(arms) or 'none'}). Add it to the config, or list "
                f"{h['id']} under claims.{cid}.untested"
            )
        chosen = [k for k in ("level", "levels", "kept") if k in sel]
        if chosen and not imp:
            raise ClaimsError(
                f"{where}: {side}.{chosen[0]} selects an IMP level; claims.{cid} prunes nothing"
            )
        if len(chosen) > 1:
            raise ClaimsError(f"{where}: {side} gives {' and '.join(chosen)}: give one of them")
        if sel.get("epoch") == "early" and not imp:
            raise ClaimsError(
                f"{where}: {side}.epoch early reads a validation loss, which only IMP runs "
                f"record; claims.{cid} prunes nothing"
            )
        if isinstance(sel.get("size"), int) and sel["size"] not in sizes:
            raise ClaimsError(
                f"{where}: {side}.size {sel['size']} is not a size of claims.{cid} "
                f"({', '.join(map(str, sorted(sizes)))})"
            )
        if "freq" in sel and not probe:
            raise ClaimsError(f"{where}: {side}.freq needs metric dft_ratio")
        at = sel.get("epoch")
        if isinstance(at, int) and not isinstance(at, bool) and not probe:
            ran = [s.epochs for s in pool if set(sel.get("arms", [sel.get("arm")]))
                   & set(kinds.get(s.kind).row_arms(s))]  # fmt: skip
            if ran and at > max(ran):
                raise ClaimsError(
                    f"{where}: {side}.epoch {at} is past the {max(ran)} epochs its runs train "
                    f"(claims.{cid}); give an epoch up to {max(ran)}, last, or a fraction"
                )
        if h["metric"] == "best_epoch" or sel.get("epoch") == "early":
            # the early-stopping epoch is read on a validation part that only some runs hold out
            held = {a for s in pool if s.own().get("early_stop_val")
                    for a in kinds.get(s.kind).row_arms(s)}  # fmt: skip
            lacking = [x for x in sel.get("arms", [sel.get("arm")]) if x not in held]
            if not ranked and lacking:
                raise ClaimsError(
                    f"{where}: {side} reads the epoch of lowest validation loss (metric best_epoch"
                    f" or epoch early), which the runs of arm {lacking[0]!r} do not record (only "
                    "runs with early_stop_val, the IMP designs, hold out a validation part): "
                    "give another metric"
                )
        if h["metric"] == "epochs_to_loss" and "loss" not in sel:
            raise ClaimsError(f"{where}: metric epochs_to_loss needs {side}.loss (a threshold)")
    for ds in h.get("datasets", []):
        # a known dataset the config does not run (e.g. MNIST-1D's own numbers in a digits-only
        # run) leaves the hypothesis not tested, as the report says; an unknown name is a typo
        if ds not in datasets and ds not in known_datasets():
            raise ClaimsError(
                f"{where}: dataset {ds} is not run by claims.{cid} ({', '.join(sorted(datasets))})"
                f" and is no dataset nnclaims knows ({', '.join(known_datasets())})"
            )


def claim_alpha(config: dict[str, Any]) -> float:
    """Each claim's familywise level: ALPHA, or over the whole report ALPHA / the number of
    claims (config `familywise: report`)."""
    from nnclaims.core import catalog

    n = len([c for c in config["claims"].values() if c is not None])
    return catalog.ALPHA / (n if config.get("familywise") == "report" else 1)
