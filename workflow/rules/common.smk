# Shared helpers: the run plan from the config, and input functions. Every path comes from
# nnclaims.core.paths; no path is built here by hand. Only layers that import without torch or
# numpy (the DAG parses on a submit host with Snakemake alone: tests/test_submit_host.py).

import os

from nnclaims import kinds
from nnclaims.core import catalog, paths
from nnclaims.data import downloads
from nnclaims.plan import claims, resources
from nnclaims.plan.runs import make_plan

CLAIMS_FILE = claims.CLAIMS_FILE
paths.set_root(config.get("results", paths.DEFAULT_RESULTS))  # before any path is made
try:
    PLAN = make_plan(config)
    CLAIM_DOC = claims.load(CLAIMS_FILE)
    claims.check(CLAIM_DOC, config, PLAN)
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
RUNS = PLAN.runs
CLAIMS = list(PLAN.claim_runs)
# each claim's familywise level: 0.05, or over the whole report 0.05 / claims (config: familywise)
CLAIM_ALPHA = catalog.ALPHA / (
    len(CLAIMS) if config.get("familywise") == "report" else 1
)
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
    ran = {RUNS[r].kind for r in PLAN.claim_runs[claim]}
    names = claims.figures(CLAIM_DOC[claim], ran)
    return [str(p) for p in paths.claim_figures(claim, names)]


def claim_run_files(kind):
    def inner(wildcards):
        make = paths.run_metrics if kind == "metrics" else paths.run_hparams
        return [str(make(r)) for r in PLAN.claim_runs[wildcards.claim]]

    return inner


def all_benchmarks():
    """Snakemake's time record of every job before the report (for the report's stage times)."""
    datasets = sorted(
        {s.dataset for s in RUNS.values() if kinds.get(s.kind).needs_data}
    )
    files = [paths.benchmark("data", d) for d in datasets]
    files += [paths.benchmark("train", r) for r in RUNS if r not in _BATCHED]
    files += [paths.benchmark("train", b) for b in PLAN.batches]
    files += [
        paths.benchmark(stage, c) for stage in ("collect", "analyse") for c in CLAIMS
    ]
    return [str(f) for f in files]
