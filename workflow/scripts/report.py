"""Rule `report`: build the PDF from the template and the numbers the notebooks wrote."""

from nnclaims.core import logs
from nnclaims.report import pdf as report

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
report.build(
    sm.input.template,
    list(sm.input.numbers),
    sm.input.claims,
    sm.output.pdf,
    config=sm.config,
    build_dir=sm.params.build_dir,
    benchmarks=list(sm.input.benchmarks),
    runs=list(sm.input.runs),
    summary=sm.input.summary,
)
