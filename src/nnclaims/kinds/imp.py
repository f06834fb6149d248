"""Kind "imp": iterative magnitude pruning (Frankle & Carbin 2019), the trunk whose masks the
sparse controls (kind "control", nnclaims.kinds.control) train from scratch; its plan makes both."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind, model_epochs

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from nnclaims.core.setup import Setup
    from nnclaims.nets.models import Stacked


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
    from nnclaims.kinds import common

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
    import numpy as np
    import pandas as pd
    import torch

    from nnclaims.core import files as io
    from nnclaims.kinds import common
    from nnclaims.nets import pruning
    from nnclaims.train import checkpoint as ckpt
    from nnclaims.train import tidy, weights

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


def _data(spec: RunSpec, arrays):
    from nnclaims.kinds import common

    return common.with_validation(arrays, spec.val_fraction) if spec.early_stop_val else arrays


def imp_job(spec: RunSpec, job: Job):
    from nnclaims.core import files as io

    df = run_imp(spec, job.arrays, job.masks_out, job.ckpt_dir, job.device, job.weights_out)
    return df, io.read_npz(job.masks_out)


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


# END


KIND = Kind(
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
)
