checkpoint collect:
    """A claim's tidy table (Parquet) at one look, the hyperparameters of the runs in it, and the
    design's state after the look: a checkpoint, so the DAG asks for the next look's runs only
    while the claim has a test that more seeds can decide (nnclaims.stats.looks)."""
    input:
        metrics=claim_run_files("metrics"),
        hparams=claim_run_files("hparams"),
        claims=CLAIMS_FILE,
        before=look_before,
    output:
        table=str(paths.look_file("{claim}", "{look}", "table")),
        runs=str(paths.look_file("{claim}", "{look}", "runs")),
        design=str(paths.look_file("{claim}", "{look}", "design")),
    log:
        str(paths.LOGS / "collect" / "{claim}.{look}.log"),
    benchmark:
        str(paths.benchmark("collect", "{claim}.{look}"))
    wildcard_constraints:
        claim="|".join(CLAIMS),
        look=r"\d+",
    conda:
        "../../envs/analysis.yaml"
    params:
        alpha=CLAIM_ALPHA,
        looks=LOOKS,
    script:
        "../scripts/collect.py"


rule settle:
    """A claim's table, runs and design at the last look it reached: what the notebook, the
    metrics table and the report read."""
    input:
        unpack(reached_files),
    output:
        table=str(paths.claim_table("{claim}")),
        runs=str(paths.claim_runs("{claim}")),
        design=str(paths.claim_design("{claim}")),
    log:
        str(paths.LOGS / "settle" / "{claim}.log"),
    wildcard_constraints:
        claim="|".join(CLAIMS),
    run:
        looks.settle(wildcards.claim, input, output, log[0])


# One analysis rule per claim, so each figure is a declared output of the notebook that draws it:
# the claim's own notebook, or the generic compare.ipynb (config/claims.yaml: notebook, figures).
for _claim in CLAIMS:

    rule:
        name:
            f"analyse_{_claim}"
        input:
            notebook=claims.notebook(CLAIM_DOC[_claim]),
            table=str(paths.claim_table(_claim)),
            runs=str(paths.claim_runs(_claim)),
            claims=CLAIMS_FILE,
            design=str(paths.claim_design(_claim)),
        output:
            numbers=str(paths.claim_numbers(_claim)),
            figures=[
                report(
                    p,
                    caption=claims.caption(_claim),
                    category="Figures",
                    subcategory=_claim,
                )
                for p in claim_figures(_claim)
            ],
        # The executed notebook is a log, not an output, so it is kept when a cell fails.
        log:
            notebook=str(paths.claim_notebook_out(_claim)),
            stdout=str(paths.LOGS / "analyse" / f"{_claim}.log"),
        benchmark:
            str(paths.benchmark("analyse", _claim))
        conda:
            "../../envs/analysis.yaml"
        params:
            claim=_claim,
            alpha=CLAIM_ALPHA,
            fig_dir=lambda w, output: os.path.dirname(output.figures[0]),
        # every value quoted (:q), and passed raw (-r: a claim named inf stays text, not a float)
        shell:
            "papermill {input.notebook:q} {log.notebook:q} -k python3 --cwd . "
            "-r table {input.table:q} -r runs {input.runs:q} -r claims {input.claims:q} "
            "-r claim {params.claim:q} -r alpha {params.alpha} -r fig_dir {params.fig_dir:q} "
            "-r numbers {output.numbers:q} -r decisions {input.design:q} > {log.stdout:q} 2>&1"


rule metrics:
    """Every claim's tidy table in one file (columns documented in the README)."""
    input:
        tables=[str(paths.claim_table(c)) for c in CLAIMS],
    output:
        str(paths.METRICS_ALL),
    log:
        str(paths.LOGS / "metrics.log"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/metrics.py"
