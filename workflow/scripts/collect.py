"""Rule `collect`: one tidy table per claim from its runs' tables."""

from nnclaims.core import logs
from nnclaims.run import tables

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
tables.collect(
    sm.wildcards.claim,
    list(sm.input.metrics),
    list(sm.input.hparams),
    sm.output.table,
    sm.output.runs,
)
