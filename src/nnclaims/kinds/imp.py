"""Kinds "imp" and "control": iterative magnitude pruning (Frankle & Carbin 2019), the trunk,
and the sparse networks trained from scratch at each of its levels (its masks reinitialised,
or random masks of the same sparsity)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..hparams import RunSpec
from ..lazy import lazy
from . import Job, Kind, model_epochs

if TYPE_CHECKING:
    from ..models import Stacked
    from ..plan import Setup

np, pd, torch = lazy("numpy"), lazy("pandas"), lazy("torch")
ckpt, io, pruning = lazy("nnclaims.checkpoint"), lazy("nnclaims.io"), lazy("nnclaims.pruning")
seeding, tidy, weights = lazy("nnclaims.seeding"), lazy("nnclaims.tidy"), lazy("nnclaims.weights")
common = lazy("nnclaims.kinds.common")

log = logging.getLogger(__name__)
CPU = "cpu"


def ticket(
    spec: RunSpec,
    n_in: int,
    d_out: int,
    seeds: list[int],
    masks: list[torch.Tensor] | None,
    rewind: dict | None = None,
) -> Stacked:
    """The models at the start of an IMP round: θ0 (the same init seeds every round), or the
    weights at the rewind epoch of the dense training when given, times masks."""
    model = common.stack(spec, n_in, d_out, seeds)
    if rewind is not None:
        model.load_state_dict(rewind)
    model.set_masks(masks)
    return model


def run_imp(
    spec: RunSpec,
    arrays,
    masks_out: Path,
    ckpt_dir: Path | None = None,
    device=CPU,
    weights_out: Path | None = None,
) -> pd.DataFrame:
    """Iterative magnitude pruning: train, prune, reset survivors to θ0, repeat (0 = dense).

    Checkpoints after every epoch and every round; a restarted run resumes where it stopped.
    `weights_out` gets the last round's trained tickets (the sparsest).
    With early_stop_val, every round trains on the training set less a validation part whose
    loss is recorded per epoch (Frankle & Carbin's early-stopping signal).
    """
    arrays = _data(spec, arrays)
    seeds = list(spec.seeds)
    n_in, d_out = common.d_in(arrays), arrays.n_classes
    weights0 = common.stack(spec, n_in, d_out, seeds).weights
    masks = [torch.ones_like(w) for w in weights0]
    rates = pruning.rates_for(weights0, spec.prune_fraction, spec.conv_prune_fraction)
    done: list[dict] = []  # per finished round: its history and level
    saved: dict[str, torch.Tensor] = {}
    state = ckpt.load(common.ckpt_file(ckpt_dir, "imp.pt"), "imp")
    if state is not None:
        masks, done, saved = list(state["masks"]), list(state["done"]), dict(state["saved"])
        ckpt.restore_rng(state)  # the next round's dropout continues the same stream
        log.info("resuming IMP after round %d", len(done) - 1)
    # rewinding (Frankle et al. 2020, not the 2019 paper): reset to the weights after epoch k
    rewind = (
        ckpt.load(common.ckpt_file(ckpt_dir, "rewind.pt"), "rewind") if spec.rewind_epoch else None
    )
    rewind = None if rewind is None else rewind["model"]

    def keep_rewind(epoch: int, _row: dict, model=None) -> None:
        nonlocal rewind
        if epoch == spec.rewind_epoch:
            rewind = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if ckpt_dir is not None:
                ckpt.save(ckpt_dir / "rewind.pt", "rewind", {"model": rewind})

    model = None  # the round's models (None when a resumed run had no round left to train)
    for r in range(len(done), spec.prune_rounds + 1):
        model = ticket(spec, n_in, d_out, seeds, masks, rewind if r > 0 else None)
        level = pruning.remaining_fraction(masks)
        log.info(
            "IMP round %d/%d: %.1f%% of weights remain", r, spec.prune_rounds, 100 * level.mean()
        )
        hook = None
        if r == 0 and spec.rewind_epoch:
            hook = lambda e, row, m=model: keep_rewind(e, row, m)  # noqa: E731
        hist = common.train(spec, model, arrays, ckpt_dir, device, f"imp-round{r}", on_epoch=hook)
        if r == 0 and spec.rewind_epoch and rewind is None:
            raise ValueError(f"rewind epoch {spec.rewind_epoch} is past the {spec.epochs} epochs")
        done.append({"level": level, **{m: torch.as_tensor(v) for m, v in hist.items()}})
        for i, m in enumerate(masks):
            saved[f"round{r}_layer{i}"] = m.to(torch.uint8)
        masks = pruning.prune_by_magnitude([w.cpu() for w in model.weights], masks, rates)
        if ckpt_dir is not None:
            ckpt.save(
                ckpt_dir / "imp.pt",
                "imp",
                {"masks": masks, "done": done, "saved": saved, **ckpt.rng_states()},
            )
            ckpt.clear(ckpt_dir / "train.pt")
    if weights_out is not None and model is not None:  # the last round's tickets
        states = weights.model_states(model, range(len(seeds)))
        weights.save(weights_out, states, [{"seed": s} for s in seeds], spec.run_id)
    with io.atomic_path(masks_out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: v.numpy() for k, v in saved.items()})
    total = pruning.prunable(weights0)
    frames = []
    for r, d in enumerate(done):
        hist = {m: v.numpy() for m, v in d.items() if m != "level"}
        arm, level = "dense" if r == 0 else "imp", d["level"].numpy()
        kept = np.round(level * total)  # level = survivors / total, so this is exact
        frames.append(tidy.from_history(spec, hist, seeds, level, [arm] * len(seeds), kept=kept))
    return pd.concat(frames, ignore_index=True)


def load_masks(path: Path, rounds: int, n_layers: int) -> list[list[torch.Tensor]]:
    """Masks per round (1..rounds) per layer from an IMP run's masks.npz."""
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


def _data(spec: RunSpec, arrays):
    return common.with_validation(arrays, spec.val_fraction) if spec.early_stop_val else arrays


def imp_job(spec: RunSpec, job: Job):
    df = run_imp(spec, job.arrays, job.masks_out, job.ckpt_dir, job.device, job.weights_out)
    return df, io.read_npz(job.masks_out)


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


PRUNING = {
    "prune_rounds": 0,  # rounds after the dense one
    "prune_fraction": 0.2,  # of remaining weights per round (paper: 20 %)
    "conv_prune_fraction": 0.0,  # rate for conv layers (paper: 10-15 %); 0 = as above
    "rewind_epoch": 0,  # reset survivors to the weights after this epoch; 0 = θ0 (paper)
    "early_stop_val": False,  # hold out val_fraction, record its loss per epoch
}


def plan(setup: Setup) -> list[RunSpec]:
    """The IMP trunk of the claim's arm, then one control run per `controls` entry, branching
    from the trunk's masks."""
    c = setup.c
    act = setup.arm_spec(c.get("arm", "relu"))
    prune = {
        "prune_rounds": c["rounds"],
        "prune_fraction": c["fraction"],
        "conv_prune_fraction": c.get("conv_fraction", 0.0),
        "rewind_epoch": c.get("rewind", 0),
        # the paper's early stopping reads a validation set: hold one out of training
        "early_stop_val": True,
    }
    kw = setup.fixed_lr()  # the paper's fixed learning rate; no search
    trunk = RunSpec("imp", "imp", **act, **prune, **kw)
    controls = [
        RunSpec("control", ctl, **act, control=ctl, trunk=trunk.run_id, **prune, **kw)
        for ctl in c["controls"]
    ]
    long = c.get("long")
    if long:  # ticket, dense and controls again, longer: sparse nets train slower
        controls.append(
            RunSpec(
                "control",
                "long",
                **act,
                control="long",
                trunk=trunk.run_id,
                control_rounds=tuple(int(r) for r in long["rounds"]),
                **prune,
                **{**kw, "epochs": int(long["epochs"])},
            )
        )
    return [trunk, *controls]


def check(cid: str, c: dict, config: dict) -> None:
    long = c.get("long") or {}
    past = [r for r in long.get("rounds", []) if r > c["rounds"]]
    if past:
        raise ValueError(f"claims.{cid}.long.rounds: {past} past the last round, {c['rounds']}")
    if c.get("rewind", 0):
        epochs = {**config["train"], **c.get("train", {})}["epochs"]
        if c["rewind"] > epochs:
            raise ValueError(
                f"claims.{cid}.rewind: epoch {c['rewind']} is past the {epochs} epochs"
            )


def describe(runs: list[dict]) -> str:
    r = runs[0]
    return (
        f"IMP: {r['prune_rounds']} rounds pruning {100 * r['prune_fraction']:g} % of remaining "
        f"weights per layer (output layer at half rate), survivors reset to their initial "
        f"values; controls at every level"
    )


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


KINDS = [
    Kind(
        "imp",
        imp_job,
        doc="iterative magnitude pruning: the dense round, then one ticket per round",
        params=PRUNING,
        block="rounds",
        plan=plan,
        order=40,
        check=check,
        row_arms=lambda spec: ["dense", "imp"],
        outputs=("masks",),
        priority=10,  # the longest chain (IMP rounds, then its controls): start it first
        work=lambda spec: model_epochs(spec) * (spec.prune_rounds + 1),
        describe=describe,
        rows_version=2,  # 2: weights_kept rows
    ),
    Kind(
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
    ),
]
