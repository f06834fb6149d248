# One job per run: all seeds of a run train together in one process (stacked models); runs that
# differ only in their activation train as one batch job (one stack, one process: see below).
# threads: 1, so a 2-core machine runs two jobs side by side without oversubscription.


rule train:
    """Train one run of any kind (nnclaims.kinds) but a batch; its kind gives its priority (IMP
    first: the longest chain; searches and sweeps next), and the other runs' files it reads.
    """
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
        run=runs_writing(),
    priority: train_priority
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


use rule train as train_with_masks with:
    # runs whose kind also writes its pruning masks (IMP): the file its controls read
    output:
        metrics=str(paths.run_metrics("{run}")),
        hparams=str(paths.run_hparams("{run}")),
        masks=str(paths.run_masks("{run}")),
    wildcard_constraints:
        run=runs_writing("masks"),


# One job per batch: arms of the same shape and schedule train as one stack (nnclaims.plan.runs
# .make_batches); each run still gets its own directory, with the numbers it would get alone.
for _bid, _ids in PLAN.batches.items():

    rule:
        name:
            f"train_{_bid}"
        input:
            data=str(paths.dataset_file(RUNS[_ids[0]].dataset)),
            draws=draw_files([RUNS[r] for r in _ids]),
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
