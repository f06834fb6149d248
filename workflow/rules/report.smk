rule report:
    """The PDF: per claim, the source's claim, our setup, figures, numbers and verdict."""
    input:
        template="paper/report.typ",
        claims=CLAIMS_FILE,
        numbers=[str(paths.claim_numbers(c)) for c in CLAIMS],
        runs=[str(paths.claim_runs(c)) for c in CLAIMS],
        figures=[p for c in CLAIMS for p in claim_figures(c)],
        benchmarks=all_benchmarks(),
    output:
        pdf=report(REPORT_PDF, caption="../report/workflow.rst", category="Report"),
    log:
        str(paths.LOGS / "report.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        build_dir=lambda w, output: os.path.splitext(output.pdf)[0],  # results/report/
    script:
        "../scripts/report.py"
