# Shared helpers: the run plan from the config, and input functions. Every path comes from
# nnclaims.core.paths; no path is built here by hand. Only layers that import without torch or
# numpy (the DAG parses on a submit host with Snakemake alone: tests/test_submit_host.py).

import os

from nnclaims import kinds
from nnclaims.core import catalog, paths
from nnclaims.data import downloads
from nnclaims.plan import claims, looks, resources

CLAIMS_FILE = claims.CLAIMS_FILE
paths.set_root(config.get("results", paths.DEFAULT_RESULTS))  # before any path is made
try:
    # one plan per look of the design (config `decide`; one look without it): a later look's
    # runs differ in their seeds only
    PLANS = looks.plans(config)
    LOOKS = looks.looks(config)  # the declared seed counts, None for one look
    PLAN = looks.merged(PLANS)
    CLAIM_DOC = claims.load(CLAIMS_FILE)
    for _plan in PLANS:
        claims.check(CLAIM_DOC, config, _plan)
# A hypothesis the runs cannot decide, or a bad arm or setting: stop before any job, saying which.
except claims.ClaimsError as e:
    raise WorkflowError(f"Invalid claims: {e}") from None
except ValueError as e:
    raise WorkflowError(f"Invalid config: {e}") from None

if resources.size_warning(PLAN.runs.values()):
    logger.warning(f"Warning: {resources.size_warning(PLAN.runs.values())}")
EMBEDDED = sorted(catalog.EMBEDDED_DATASETS)
DOWNLOADABLE = sorted(downloads.REGISTRY)
DRAWABLE = sorted(catalog.DRAWABLE)
DATA_CFG = config.get("data", {})
DEVICE = config.get("device", "cpu")
RUNS = PLAN.runs  # every look's
FIRST_RUNS = PLANS[0].runs  # the first look's: always trained
CLAIMS = list(PLAN.claim_runs)
# each claim's familywise level: 0.05, or over the whole report 0.05 / claims (config: familywise)
CLAIM_ALPHA = claims.claim_alpha(config)
REPORT_PDF = str(paths.REPORT_PDF)
RUN_ID = r"[a-z]+_[0-9a-f]{12}"
_BATCHED = {r for ids in PLAN.batches.values() for r in ids}


def runs_writing(*files):
    """A pattern matching the runs (not batched: their batch's rule makes those) whose kind
    writes these files beside its metrics and hparams (nnclaims.kinds: Kind.outputs); one that
    matches nothing when there are none."""
    ids = [
        r
        for r, s in RUNS.items()
        if kinds.get(s.kind).outputs == files and r not in _BATCHED
    ]
    return "|".join(ids) or "(?!x)x"


def run_spec(wildcards):
    if wildcards.run not in RUNS:
        raise WorkflowError(
            f"No run {wildcards.run} in the current config: it was made by another config. "
            "Delete its directory or rerun with the config that made it."
        )
    # the fields the run id hashes: a field added later at its default reruns nothing
    return RUNS[wildcards.run].non_defaults()


def train_runtime(wildcards):
    """Minutes a training job asks for, from its hyperparameters."""
    return resources.runtime_minutes(RUNS[wildcards.run])


def train_mem(wildcards):
    return resources.mem_mb(RUNS[wildcards.run])


def train_gpus(wildcards):
    """One GPU per training job with `device: cuda` (a SLURM job then asks for --gpus=1)."""
    return 1 if DEVICE == "cuda" else 0


def train_inputs(wildcards):
    spec = RUNS[wildcards.run]
    kind = kinds.get(spec.kind)
    inputs = {}
    if kind.needs_data:
        inputs["data"] = str(paths.dataset_file(spec.dataset))
        inputs["draws"] = draw_files([spec])
    for name, (what, run) in kind.inputs(spec).items():
        inputs[name] = str(paths.run_file(what, run))
    return inputs


def draw_files(specs):
    """The per-seed draws runs read (data_draw: seed): each data seed of their kinds."""
    seeds = {s: sp.dataset for sp in specs if sp.data_draw == "seed"
             for s in kinds.get(sp.kind).data_seeds(sp)}  # fmt: skip
    return [str(paths.draw_file(d, s)) for s, d in sorted(seeds.items())]


def train_priority(wildcards):
    """A training job's priority: its kind's (nnclaims.kinds: Kind.priority)."""
    return kinds.get(RUNS[wildcards.run].kind).priority


def claim_figures(claim):
    """The figure files a claim's notebook writes (config/claims.yaml: figures, and
    figures_when for those that only some of its kinds draw)."""
    ran = {RUNS[r].kind for r in PLANS[0].claim_runs[claim]}
    names = claims.figures(CLAIM_DOC[claim], ran)
    return [str(p) for p in paths.claim_figures(claim, names)]


def claim_run_files(kind):
    """A claim's run files at one look (wildcard `look`, 1-based)."""

    def inner(wildcards):
        make = paths.run_metrics if kind == "metrics" else paths.run_hparams
        runs = PLANS[int(wildcards.look) - 1].claim_runs[wildcards.claim]
        return [str(make(r)) for r in runs]

    return inner


def look_before(wildcards):
    """The design's state after the previous look (none before the first)."""
    k = int(wildcards.look)
    if not 1 <= k <= len(PLANS):
        raise WorkflowError(f"No look {k}: the config declares {len(PLANS)}")
    return [] if k == 1 else str(paths.look_file(wildcards.claim, k - 1, "design"))


def reached(claim):
    """The last look a claim reaches (1-based): the next one while its design state says
    so (checkpoint collect), so only those looks' runs are asked for."""
    k = 1
    while True:
        state = checkpoints.collect.get(claim=claim, look=str(k)).output.design
        if k == len(PLANS) or not looks.continues(state):
            return k
        k += 1


def reached_files(wildcards):
    k = reached(wildcards.claim)
    return {
        w: str(paths.look_file(wildcards.claim, k, w))
        for w in ("table", "runs", "design")
    }


def all_benchmarks(wildcards):
    """Snakemake's time record of every job before the report (for the report's stage times):
    the jobs of every look each claim reached."""
    looked = {c: reached(c) for c in CLAIMS}
    runs = {r for c, k in looked.items() for p in PLANS[:k] for r in p.claim_runs[c]}
    datasets = sorted(
        {RUNS[r].dataset for r in runs if kinds.get(RUNS[r].kind).needs_data}
    )
    files = [paths.benchmark("data", d) for d in datasets]
    files += [paths.benchmark("train", r) for r in sorted(runs) if r not in _BATCHED]
    files += [
        paths.benchmark("train", b)
        for b, ids in PLAN.batches.items()
        if runs & set(ids)
    ]
    files += [paths.benchmark("collect", f"{c}.{j}") for c, k in looked.items()
              for j in range(1, k + 1)]  # fmt: skip
    files += [paths.benchmark("analyse", c) for c in CLAIMS]
    return [str(f) for f in files]
