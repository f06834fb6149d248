rule data:
    """Generate an embedded dataset (no download) as plain arrays."""
    output:
        str(paths.dataset_file("{dataset}")),
    log:
        str(paths.LOGS / "data" / "{dataset}.log"),
    benchmark:
        str(paths.benchmark("data", "{dataset}"))
    wildcard_constraints:
        dataset="[a-z0-9_]+",
    conda:
        "../../envs/train.yaml"
    threads: 1
    script:
        "../scripts/make_data.py"
