# Shared helpers: the run plan from the config, and input functions. Every path comes from
# nnclaims.paths; no path is built here by hand.

import os

from nnclaims import paths, resources
from nnclaims.plan import make_plan

try:
    PLAN = make_plan(config)
except (
    ValueError
) as e:  # a bad arm or claim name: stop before any job starts, saying which
    raise WorkflowError(f"Invalid config: {e}") from None

RUNS = PLAN.runs
CLAIMS = list(PLAN.claim_runs)
REPORT_PDF = str(paths.REPORT_PDF)
CLAIMS_FILE = "config/claims.yaml"
RUN_ID = r"[a-z]+_[0-9a-f]{12}"


def run_spec(wildcards):
    if wildcards.run not in RUNS:
        raise WorkflowError(
            f"No run {wildcards.run} in the current config: it was made by another config. "
            "Delete its directory or rerun with the config that made it."
        )
    return RUNS[wildcards.run].to_dict()


def train_runtime(wildcards):
    """Minutes a training job asks for, from its hyperparameters."""
    return resources.runtime_minutes(RUNS[wildcards.run])


def train_mem(wildcards):
    return resources.mem_mb(RUNS[wildcards.run])


def train_inputs(wildcards):
    spec = RUNS[wildcards.run]
    inputs = {}
    if spec.kind != "spectral":
        inputs["data"] = str(paths.dataset_file(spec.dataset))
    if spec.kind == "control":
        inputs["trunk_masks"] = str(paths.run_masks(spec.trunk))
    return inputs


def claim_run_files(kind):
    def inner(wildcards):
        make = paths.run_metrics if kind == "metrics" else paths.run_hparams
        return [str(make(r)) for r in PLAN.claim_runs[wildcards.claim]]

    return inner


def all_benchmarks():
    """Snakemake's time record of every job before the report (for the report's stage times)."""
    datasets = sorted({s.dataset for s in RUNS.values() if s.kind != "spectral"})
    files = [paths.benchmark("data", d) for d in datasets]
    files += [paths.benchmark("train", r) for r in RUNS]
    files += [
        paths.benchmark(stage, c) for stage in ("collect", "analyse") for c in CLAIMS
    ]
    return [str(f) for f in files]
