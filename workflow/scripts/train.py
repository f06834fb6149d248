"""Rules `train` and `train_imp`: run one RunSpec (all its seeds in one process)."""

from pathlib import Path

from nnclaims.core import logs
from nnclaims.core.hparams import RunSpec
from nnclaims.run import experiments, replicates

sm = snakemake  # noqa: F821 (injected by the script directive)
logs.to_file(sm.log[0])
spec = RunSpec.from_dict(sm.params.spec)
experiments.run(
    spec,
    Path(sm.output.metrics).parent,
    data_path=sm.input.get("data"),
    trunk_masks=sm.input.get("trunk_masks"),
    threads=sm.threads,
    device=sm.params.get("device", "cpu"),
    replicates=sm.params.replicates,
    # from the config, not a param: switching it changes no number, so it reruns no job
    keep_weights=sm.config.get("keep_weights", True),
    # the same numbers trained earlier: from the config, as keep_weights
    archive=replicates.archive_for(sm.config, spec.kind),
    config=sm.config,  # its hash is recorded: what the run was declared under
)
