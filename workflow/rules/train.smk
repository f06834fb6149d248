# One job per run: all seeds of a run train together in one process (stacked models).
# threads: 1, so a 2-core machine runs two jobs side by side without oversubscription.


rule train:
    """Train one run (classification or spectral probe)."""
    input:
        unpack(train_inputs),
    output:
        metrics=str(paths.run_metrics("{run}")),
        hparams=str(paths.run_hparams("{run}")),
    log:
        str(paths.LOGS / "train" / "{run}.log"),
    benchmark:
        str(paths.benchmark("train", "{run}"))
    wildcard_constraints:
        run=r"(classify|spectral)_[0-9a-f]{12}",
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=train_runtime,
        mem_mb=train_mem,
    params:
        spec=run_spec,
    script:
        "../scripts/train.py"


rule train_control:
    """Sparse networks from scratch at every IMP level: the same masks reinitialized, or random."""
    input:
        unpack(train_inputs),
    output:
        metrics=str(paths.run_metrics("{run}")),
        hparams=str(paths.run_hparams("{run}")),
    log:
        str(paths.LOGS / "train" / "{run}.log"),
    benchmark:
        str(paths.benchmark("train", "{run}"))
    wildcard_constraints:
        run=r"control_[0-9a-f]{12}",
    priority: 10  # on the longest chain, right after its IMP trunk
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=train_runtime,
        mem_mb=train_mem,
    params:
        spec=run_spec,
    script:
        "../scripts/train.py"


rule train_imp:
    """Iterative magnitude pruning: the trunk whose masks the sparse controls branch from."""
    input:
        unpack(train_inputs),
    output:
        metrics=str(paths.run_metrics("{run}")),
        hparams=str(paths.run_hparams("{run}")),
        masks=str(paths.run_masks("{run}")),
    log:
        str(paths.LOGS / "train" / "{run}.log"),
    benchmark:
        str(paths.benchmark("train", "{run}"))
    wildcard_constraints:
        run=r"imp_[0-9a-f]{12}",
    priority: 10  # the longest chain (IMP rounds, then its controls): start it first
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=train_runtime,
        mem_mb=train_mem,
    params:
        spec=run_spec,
    script:
        "../scripts/train.py"
