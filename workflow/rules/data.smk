rule data:
    """Generate an embedded dataset (no download) as plain arrays."""
    output:
        str(paths.dataset_file("{dataset}")),
    log:
        str(paths.LOGS / "data" / "{dataset}.log"),
    benchmark:
        str(paths.benchmark("data", "{dataset}"))
    wildcard_constraints:
        dataset="|".join(EMBEDDED),
    # before any training: priorities do not pass upstream, so at 0 a dataset waited behind the
    # other dataset's jobs (MNIST-1D's started after 280 s) and its long chains ended the run
    priority: 20
    conda:
        "../../envs/train.yaml"
    threads: 1
    script:
        "../scripts/make_data.py"


rule draw:
    """One data seed's own draw of an embedded dataset (MNIST-1D generated with that seed,
    digits split anew): what runs with data_draw: seed train and are tested on."""
    output:
        str(paths.DATA / "{dataset}" / "draw_{seed}.npz"),
    log:
        str(paths.LOGS / "data" / "{dataset}_draw_{seed}.log"),
    benchmark:
        str(paths.benchmark("data", "{dataset}_draw_{seed}"))
    wildcard_constraints:
        dataset="|".join(DRAWABLE),
        seed=r"\d+",
    priority: 20  # as rule data: before any training
    conda:
        "../../envs/train.yaml"
    threads: 1
    script:
        "../scripts/make_draw.py"


rule download:
    """Fetch a dataset at its pinned hash (pooch; data.cache_dir, data.mirror) and parse it."""
    output:
        str(paths.dataset_file("{dataset}")),
    log:
        str(paths.LOGS / "data" / "{dataset}.log"),
    benchmark:
        str(paths.benchmark("data", "{dataset}"))
    wildcard_constraints:
        dataset="|".join(DOWNLOADABLE),
    priority: 20  # as rule data: before any training
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=30,
    params:
        cache_dir=DATA_CFG.get("cache_dir"),
        mirror=DATA_CFG.get("mirror"),
    script:
        "../scripts/make_data.py"
