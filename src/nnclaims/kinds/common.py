"""What the kinds share: training a run's K models with its settings, the validation split
and the score of a search."""

from __future__ import annotations

import numpy as np
import torch

from nnclaims.core import seeding
from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import TUNE_SEED_BASE, get, tune_seeds  # noqa: F401 (the kinds read them here)
from nnclaims.data.datasets import Arrays, Draws
from nnclaims.nets.build import d_in, stack  # noqa: F401 (the kinds read them here)
from nnclaims.nets.models import Stacked
from nnclaims.train import airbench, engine
from nnclaims.train import checkpoint as ckpt
from nnclaims.train.engine import Hooks, Schedule


def ckpt_file(ckpt_dir, name: str):
    return None if ckpt_dir is None else ckpt_dir / name


def train(
    spec: RunSpec,
    model: Stacked,
    arrays,
    ckpt_dir,
    device,
    tag: str,
    on_epoch=None,
    lr=None,
    last_only: bool = False,
) -> dict:
    """engine.train with the run's settings (lr: the run's, or one per model) on `device`,
    checkpointed under ckpt_dir/train.pt. `last_only`: held-out sets scored at the last epoch
    only (a search, which reads nothing else). `recipe: airbench` trains with that recipe's own
    loop (nnclaims.train.airbench: seconds per model on a GPU, no checkpoint, every epoch
    scored)."""
    if spec.recipe == "airbench":
        return airbench.train(
            model,
            arrays,
            spec.epochs,
            spec.batch_size,
            spec.lr if lr is None else lr,
            spec.momentum,
            spec.weight_decay,
            device=device,
            precision=spec.precision,
            on_epoch=on_epoch,
            eval_every=spec.epochs if last_only else 1,
        )
    schedule = Schedule(
        spec.epochs,
        spec.batch_size,
        spec.lr if lr is None else lr,
        optimizer=spec.optimizer,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        augment=spec.augment,
        shuffle=spec.shuffle,
        precision=spec.precision,
        compile=spec.compile,
    )
    hooks = Hooks(
        on_epoch=on_epoch,
        checkpoint=ckpt_file(ckpt_dir, "train.pt"),
        tag=tag,
        eval_every=spec.epochs if last_only else 1,
    )
    return engine.train(model, arrays, schedule, hooks, device)


def validation_split(arrays, fraction: float, seed: int = 0):
    """(train part, validation part) of the training set by a permutation of the data seed's
    stream "split", the same for every arm of a seed so candidates are compared on the same
    examples (per-seed draws: each its own; a fixed draw: seed 0's); test is untouched."""
    if isinstance(arrays, Draws):
        return arrays.map(lambda s, a: validation_split(a, fraction, s))
    n = arrays.x_train.shape[0]
    n_val = int(round(n * fraction))
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction {fraction} leaves no validation or no training examples")
    perm = torch.randperm(n, generator=seeding.generator(seed, "split"))
    tr, va = perm[n_val:], perm[:n_val]
    return Arrays(arrays.x_train[tr], arrays.y_train[tr], arrays.x_train[va], arrays.y_train[va])


def with_validation(arrays, fraction: float, seed: int = 0):
    """The training set less the validation part of `validation_split`, with that part kept as
    the validation set (evaluated every epoch: the early-stopping signal); test is untouched."""
    if isinstance(arrays, Draws):
        return arrays.map(lambda s, a: with_validation(a, fraction, s))
    part = validation_split(arrays, fraction, seed)  # its "test" is the validation part
    x_val, y_val = part.x_test, part.y_test
    return Arrays(part.x_train, part.y_train, arrays.x_test, arrays.y_test, x_val, y_val)


def search_score(val_acc: np.ndarray, chance: float) -> float:
    """A candidate's score in the lr and set searches: mean validation accuracy over its seeds,
    a diverged seed (NaN) counted as a failure at chance accuracy, so that a candidate cannot
    win on its one surviving seed."""
    return float(np.mean(np.where(np.isnan(val_acc), chance, val_acc)))


def scored_once(spec: RunSpec, make_model, arrays, ckpt_dir, device, name: str, lr=None):
    """Each model's final validation accuracy (NaN: diverged) in a search: `make_model()`'s
    stack trained with the run's settings on the training part, scored on the validation part
    at the last epoch. Kept in ckpt_dir/<name>.pt, so that a restarted job does not train it
    again."""
    state = ckpt.load(ckpt_file(ckpt_dir, f"{name}.pt"), name)
    if state is not None:
        return state["final"].numpy()
    val = validation_split(arrays, spec.val_fraction)
    hist = train(spec, make_model(), val, ckpt_dir, device, name, lr=lr, last_only=True)
    final = np.where(hist["diverged_epoch"] > 0, np.nan, hist["test_acc"][-1])
    if ckpt_dir is not None:
        ckpt.save(ckpt_dir / f"{name}.pt", name, {"final": torch.as_tensor(final)})
        ckpt.clear(ckpt_dir / "train.pt")
    return final
