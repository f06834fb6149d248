# One job per run: all seeds of a run train together in one process (stacked models); runs that
# differ only in their activation train as one batch job (one stack, one process: see below).
# threads: 1, so a 2-core machine runs two jobs side by side without oversubscription.


rule train:
    """Train one run (any kind but a batch; the two rules below reuse this one)."""
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
        run=UNBATCHED,
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=train_runtime,
        mem_mb=train_mem,
        gpu=train_gpus,
    params:
        spec=run_spec,
        device=DEVICE,
        replicates=str(paths.REPLICATES),
    script:
        "../scripts/train.py"


use rule train as train_control with:
    # sparse networks from scratch at every IMP level: the same masks reinitialized, or random
    wildcard_constraints:
        run=r"control_[0-9a-f]{12}",
    priority: 10  # on the longest chain, right after its IMP trunk


use rule train as train_search with:
    # a per-layer set search and its chosen sets at both sizes: the claim's last runs to finish
    # when started late (a core idled ~60 s at the end of the default run)
    wildcard_constraints:
        run=r"search_[0-9a-f]{12}",
    priority: 5


use rule train as train_actsearch with:
    # an activation search, then its best functions as arms (their lr search, every seed)
    wildcard_constraints:
        run=r"actsearch_[0-9a-f]{12}",
    priority: 5


use rule train as train_widths with:
    # a width sweep: one MLP per width and seed in one stack (~1 min on MNIST-1D): start early
    wildcard_constraints:
        run=r"widths_[0-9a-f]{12}",
    priority: 5


use rule train as train_imp with:
    # iterative magnitude pruning: the trunk whose masks the sparse controls branch from
    output:
        metrics=str(paths.run_metrics("{run}")),
        hparams=str(paths.run_hparams("{run}")),
        masks=str(paths.run_masks("{run}")),
    wildcard_constraints:
        run=r"imp_[0-9a-f]{12}",
    priority: 10  # the longest chain (IMP rounds, then its controls): start it first


# One job per batch: arms of the same shape and schedule train as one stack (nnclaims.plan
# .make_batches); each run still gets its own directory, with the numbers it would get alone.
for _bid, _ids in PLAN.batches.items():

    rule:
        name:
            f"train_{_bid}"
        input:
            data=str(paths.dataset_file(RUNS[_ids[0]].dataset)),
        output:
            metrics=[str(paths.run_metrics(r)) for r in _ids],
            hparams=[str(paths.run_hparams(r)) for r in _ids],
        log:
            str(paths.LOGS / "train" / f"{_bid}.log"),
        benchmark:
            str(paths.benchmark("train", _bid))
        priority: 5  # the longest training jobs after the IMP chain: start them early
        conda:
            "../../envs/train.yaml"
        threads: 1
        resources:
            runtime=sum(resources.runtime_minutes(RUNS[r]) for r in _ids),
            mem_mb=max(resources.mem_mb(RUNS[r]) for r in _ids),
            gpu=1 if DEVICE == "cuda" else 0,
        params:
            specs=[RUNS[r].non_defaults() for r in _ids],  # as run_spec
            checkpoint=str(paths.batch_checkpoint(_bid)),
            device=DEVICE,
            replicates=str(paths.REPLICATES),
        script:
            "../scripts/train_batch.py"
