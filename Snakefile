# nnclaims: data → runs → tidy tables → notebooks and figures → PDF report.
# Thin on purpose: rules live in workflow/rules/, logic in the nnclaims library (src/nnclaims).

import sys

from snakemake.utils import min_version, validate

min_version("9.17")  # a priority given by a function (rule train)

# The library beside this Snakefile, installed or not: a submit host that only plans and
# submits jobs needs Snakemake alone (the DAG imports no torch, numpy or pandas).
sys.path.insert(0, f"{workflow.basedir}/src")

# Snakemake's own message for a broken YAML file names neither the file nor the line, and its
# loader keeps the last of a key given twice: read each file again, refusing both.
from nnclaims.io import read_yaml

for _f in ["config/config.yaml", "config/claims.yaml", *workflow.configfiles]:
    read_yaml(_f)


configfile: "config/config.yaml"


# --config 'train={epochs: 5}' gives nested values as text ('5'): numbers again before the schema
from nnclaims.io import numbers_from_text

numbers_from_text(config)
from nnclaims.io import nonfinite_problem

_problem = nonfinite_problem(config)
if _problem:
    raise WorkflowError(f"Invalid config: {_problem}")
# one line naming the key (Snakemake's own message below prints the whole schema)
from nnclaims.io import schema_problem

_problem = schema_problem(config, read_yaml("workflow/schemas/config.schema.yaml"))
if _problem:
    raise WorkflowError(
        f"Invalid config: {_problem}. Every key is described in config/README.md"
    )
validate(config, "workflow/schemas/config.schema.yaml")
from nnclaims.io import archive_problem

_problem = archive_problem(config.get("seed_archive"))
if _problem:
    raise WorkflowError(f"Invalid config: {_problem}")
from nnclaims import results_folder

# a results folder over the project's own files (workflow/) or someone else's (/) loses them
_problem = results_folder.problem(config.get("results", "results"), workflow.basedir)
if _problem:
    raise WorkflowError(f"Invalid config: {_problem}")
# a claim set to null is switched off (a profile merged over the default drops one so)
config["claims"] = {k: v for k, v in config["claims"].items() if v is not None}


report: "workflow/report/workflow.rst"


onstart:
    results_folder.mark(config.get("results", "results"))  # not on a dry run


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


# Every run's files are targets too: Snakemake rebuilds a deleted intermediate only when a
# target needs it, so without them a deleted run file left a stale table and PDF.
rule all:
    default_target: True
    input:
        REPORT_PDF,
        str(paths.METRICS_ALL),
        [str(f) for r in RUNS for f in (paths.run_metrics(r), paths.run_hparams(r))],
        # the executed notebooks are logs (kept when a cell fails): a deleted one is redrawn
        [str(paths.claim_notebook_out(c)) for c in CLAIMS],
