rule summary:
    """The report's first figure: every claim's primary test against its margin (notebook)."""
    input:
        notebook="workflow/notebooks/summary.ipynb",
        numbers=[str(paths.claim_numbers(c)) for c in CLAIMS],
    output:
        figure=str(paths.FIGURES / "summary.png"),
        figure_pdf=str(paths.FIGURES / "summary.pdf"),
        caption=str(paths.FIGURES / "summary.json"),
    log:
        notebook=str(paths.NOTEBOOKS_OUT / "summary.ipynb"),
        stdout=str(paths.LOGS / "analyse" / "summary.log"),
    benchmark:
        str(paths.benchmark("analyse", "summary"))
    conda:
        "../../envs/analysis.yaml"
    params:
        numbers_dir=lambda w, input: os.path.dirname(input.numbers[0]),
        claims=",".join(CLAIMS),
        fig_dir=lambda w, output: os.path.dirname(output.figure),
    shell:
        "papermill {input.notebook:q} {log.notebook:q} -k python3 --cwd . "
        "-r numbers_dir {params.numbers_dir:q} -r claims_list {params.claims:q} "
        "-r fig_dir {params.fig_dir:q} -r caption_out {output.caption:q} "
        "> {log.stdout:q} 2>&1"


rule report:
    """The PDF: per claim, the source's claim, our setup, figures, numbers and verdict."""
    input:
        template="paper/report.typ",
        claims=CLAIMS_FILE,
        numbers=[str(paths.claim_numbers(c)) for c in CLAIMS],
        runs=[str(paths.claim_runs(c)) for c in CLAIMS],
        figures=[p for c in CLAIMS for p in claim_figures(c)],
        summary=str(paths.FIGURES / "summary.json"),
        benchmarks=all_benchmarks,
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
