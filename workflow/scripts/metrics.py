"""Rule `metrics`: all claims' tidy tables in one Parquet file."""

from nnclaims.core import logs
from nnclaims.run import tables

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
tables.concat(list(sm.input.tables), sm.output[0])
