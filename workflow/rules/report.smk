rule report:
    """The PDF: per claim, the source's claim, our setup, figures, numbers and verdict."""
    input:
        template="paper/report.typ",
        claims=CLAIMS_FILE,
        numbers=[str(paths.claim_numbers(c)) for c in CLAIMS],
        figures=[str(p) for c in CLAIMS for p in paths.claim_figures(c)],
    output:
        pdf=REPORT_PDF,
    params:
        build_dir=str(paths.REPORT_BUILD),
    conda:
        "../../envs/analysis.yaml"
    log:
        str(paths.LOGS / "report.log"),
    script:
        "../scripts/report.py"
