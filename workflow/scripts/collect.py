"""Checkpoint `collect`: a claim's tidy table at one look from its runs' tables, and the design's
state after that look (which tests it decided; whether the claim needs the next look's seeds)."""

from nnclaims.core import logs
from nnclaims.run import design, tables

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
table = tables.collect(
    sm.wildcards.claim,
    list(sm.input.metrics),
    list(sm.input.hparams),
    sm.output.table,
    sm.output.runs,
)
design.step(
    sm.wildcards.claim,
    table,
    sm.input.claims,
    sm.params.alpha,
    sm.params.looks,
    int(sm.wildcards.look),
    sm.input.get("before"),
    sm.output.design,
)
