"""Batch rules `train_batch_<id>`: runs that differ only in their arm, trained as one stack."""

from pathlib import Path

from nnclaims.core import logs
from nnclaims.core.hparams import RunSpec
from nnclaims.run import experiments, replicates

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
specs = [RunSpec.from_dict(d) for d in sm.params.specs]
experiments.run_batch(
    specs,
    [Path(m).parent for m in sm.output.metrics],
    data_path=sm.input.data,
    ckpt_dir=sm.params.checkpoint,
    threads=sm.threads,
    device=sm.params.get("device", "cpu"),
    replicates=sm.params.replicates,
    # from the config, not a param: switching it changes no number, so it reruns no job
    keep_weights=sm.config.get("keep_weights", True),
    # the same numbers trained earlier: from the config, as keep_weights
    archive=replicates.archive_for(sm.config, specs[0].kind),
    config=sm.config,  # its hash is recorded: what the run was declared under
)
