"""Kind "control": the sparse networks trained from scratch at each level of an IMP trunk
(nnclaims.kinds.imp plans them): its masks reinitialised, random masks of the same sparsity, or
(`long`) the ticket and both controls again for longer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind, model_epochs
from nnclaims.kinds.imp import CPU, PRUNING, _data

if TYPE_CHECKING:
    import pandas as pd
    import torch

log = logging.getLogger(__name__)


def load_masks(path: Path, rounds: int, n_layers: int) -> list[list[torch.Tensor]]:
    """Masks per round (1..rounds) per layer from an IMP run's masks.npz."""
    import torch

    from nnclaims.core import files as io

    z = io.read_npz(path)
    missing = [f"round{r}_layer{i}" for r in range(1, rounds + 1) for i in range(n_layers)]
    missing = [k for k in missing if k not in z]
    if missing:
        raise io.DamagedFile(f"{path} lacks masks {missing[:3]}: delete it and rerun its IMP run")
    return [
        [torch.as_tensor(z[f"round{r}_layer{i}"]).float() for i in range(n_layers)]
        for r in range(1, rounds + 1)
    ]


def run_control(
    spec: RunSpec,
    arrays,
    trunk_masks: Path,
    ckpt_dir: Path | None = None,
    mask_seeds: list[int] | None = None,
    device=CPU,
    weights_out: Path | None = None,
) -> pd.DataFrame:
    """Sparse networks trained from scratch at every IMP level at once (K = levels × seeds):
    the trunk's masks on new weights (reinit), or random masks of the same per-layer sparsity
    (random). Control `long` trains, at `control_rounds`, the IMP ticket again from θ0 (at
    round 0 the dense net) and both controls, for the run's own epochs (more than the trunk's):
    each model's first epochs are those of its trunk round or control, bit for bit.
    `mask_seeds`: the seeds of the trunk's masks file, in its order (default: the run's).
    `weights_out` gets every level's trained models (each model's seed and IMP round)."""
    import torch

    from nnclaims.core import seeding
    from nnclaims.kinds import common
    from nnclaims.nets import pruning
    from nnclaims.train import tidy, weights

    pruning.get_pruner(spec.control)
    arrays = _data(spec, arrays)
    seeds = list(spec.seeds)
    n_in, d_out = common.d_in(arrays), arrays.n_classes
    ones = [torch.ones_like(w) for w in common.stack(spec, n_in, d_out, seeds).weights]
    n_layers = len(ones)
    per_round = [ones, *load_masks(trunk_masks, spec.prune_rounds, n_layers)]  # round 0: dense
    if mask_seeds is not None:  # the trunk's masks of this run's seeds only
        pick = torch.tensor([list(mask_seeds).index(s) for s in seeds])
        per_round = [ones] + [[m.index_select(0, pick) for m in rm] for rm in per_round[1:]]
    groups = control_groups(spec)  # (variant, round) pairs, each one model per seed
    run_seeds, init_seeds, masks = [], [], [[] for _ in range(n_layers)]
    for variant, r in groups:
        round_masks = per_round[r]
        run_seeds += seeds
        init_seeds += (
            [seeding.derive_seed(s, "init") for s in seeds]  # θ0: the trunk's own init
            if variant == "ticket"
            else [seeding.derive_seed(s, "reinit", r) for s in seeds]
        )
        if variant == "random":
            round_masks = pruning.random_masks_like(
                round_masks, [seeding.derive_seed(s, "mask", r) for s in seeds]
            )
        for i in range(n_layers):
            masks[i].append(round_masks[i])
    masks = [torch.cat(m) for m in masks]
    model = common.stack(spec, n_in, d_out, run_seeds, init_seeds=init_seeds)
    model.set_masks(masks)
    level = pruning.remaining_fraction(masks).numpy()
    kept = pruning.kept(masks).numpy()
    hist = common.train(spec, model, arrays, ckpt_dir, device, "control")
    model_groups = [g for g in groups for _ in seeds]
    if weights_out is not None:
        models = [{"seed": s, "round": r} for s, (_, r) in zip(run_seeds, model_groups)]
        states = weights.model_states(model, range(len(run_seeds)))
        weights.save(weights_out, states, models, spec.run_id)
    arms = [control_arm(spec, v, r) for v, r in model_groups]
    return tidy.from_history(spec, hist, run_seeds, level, arms, kept=kept)


LONG_VARIANTS = ("ticket", "reinit", "random")  # what control `long` trains at each round


def control_groups(spec: RunSpec) -> list[tuple[str, int]]:
    """A control's (variant, IMP round) pairs: reinit or random at `control_rounds` (default:
    every pruned round); for `long`, the ticket at each (round 0: the dense net) and both
    controls at each pruned one."""
    rounds = list(spec.control_rounds) or list(range(1, spec.prune_rounds + 1))
    bad = [r for r in rounds if not 0 <= r <= spec.prune_rounds]
    if bad:
        raise ValueError(f"control rounds {bad} outside the trunk's 0..{spec.prune_rounds}")
    if spec.control != "long":
        if 0 in rounds:
            raise ValueError("round 0 is the dense net: only control long retrains it")
        return [(spec.control, r) for r in rounds]
    return [(v, r) for v in LONG_VARIANTS for r in rounds if r > 0 or v == "ticket"]


def control_arm(spec: RunSpec, variant: str, r: int) -> str:
    """A control model's arm: the run's (reinit, random); for control `long`, the variant's
    with _long (imp_long, dense_long at round 0, reinit_long, random_long)."""
    if spec.control != "long":
        return spec.arm
    name = {"ticket": "dense" if r == 0 else "imp"}.get(variant, variant)
    return f"{name}_long"


def control_job(spec: RunSpec, job: Job):
    if job.trunk_masks is None:
        raise ValueError(f"control run {spec.run_id} needs the masks of IMP run {spec.trunk}")
    rows = run_control(
        spec,
        job.arrays,
        Path(job.trunk_masks),
        job.ckpt_dir,
        job.mask_seeds,
        job.device,
        job.weights_out,
    )
    return rows, None


def describe_controls(runs: list[dict]) -> str | None:
    """What the controls add to describe's sentence: the longer retrain, if any."""
    longer = [x for x in runs if x.get("control") == "long"]
    if not longer:
        return None
    x = longer[0]
    return (
        f"the ticket (at round 0 the dense net) and both controls again, from the same initial "
        f"values and masks, for {x['epochs']} epochs at rounds "
        f"{', '.join(map(str, x['control_rounds']))}"
    )


KIND = Kind(
    "control",
    control_job,
    doc="sparse from scratch at each IMP level",
    # reinit | random | long; the trunk's run id; the rounds it trains (default: all pruned)
    params={**PRUNING, "control": "", "trunk": "", "control_rounds": ()},
    row_arms=lambda spec: sorted({control_arm(spec, v, r) for v, r in control_groups(spec)}),
    order=41,
    inputs=lambda spec: {"trunk_masks": ("masks", spec.trunk)},
    priority=10,  # on the longest chain, right after its IMP trunk
    work=lambda spec: model_epochs(spec) * len(control_groups(spec)),
    describe=describe_controls,
    rows_version=2,
)
