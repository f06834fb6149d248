"""What the kinds share: building a run's K models, training them with its settings, the
validation split and the score of a search."""

from __future__ import annotations

import numpy as np
import torch

from .. import airbench, seeding, vision
from .. import checkpoint as ckpt
from ..data import Arrays, Draws
from ..engine import train_classifier
from ..hparams import RunSpec
from ..models import Stacked, get_model
from ..vmapstack import VmapStack
from . import TUNE_SEED_BASE, get, tune_seeds  # noqa: F401 (the kinds read them here)


def stack(
    spec: RunSpec, d_in, d_out: int, seeds: list[int], init_seeds: list[int] | None = None
) -> Stacked:
    """The run's K models; d_in is an int for the MLP/CNN stacks, an example's shape for images
    (a kind with its own `build` makes its own: a width sweep's K seeds at every width)."""
    build = get(spec.kind).build
    if build is not None:
        return build(spec, d_in, d_out, seeds, init_seeds)
    if spec.model in vision.IMAGE_MODELS:
        shape = tuple(d_in) if isinstance(d_in, (tuple, list, torch.Size)) else (1, d_in)
        if init_seeds is None:
            init_seeds = [seeding.derive_seed(s, "init") for s in seeds]
        make = vision.ModuleStack if spec.stacking == "loop" else VmapStack
        return make(
            seeds,
            init_seeds,
            lambda: vision.build(
                spec.model, spec.depth, spec.activation, spec.layer_acts, shape, d_out
            ),
        )
    return get_model(spec.model)(
        seeds,
        d_in,
        spec.depth,
        spec.width,
        d_out,
        spec.activation,
        init_scale=spec.init_scale,
        init_seeds=init_seeds,
        layer_acts=spec.layer_acts,
    )


def d_in(arrays):
    """Input size for the MLP/CNN stacks, one example's shape for the image models."""
    x = (arrays.first if isinstance(arrays, Draws) else arrays).x_train
    return x.shape[1] if x.dim() == 2 else tuple(x.shape[1:])


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
    """train_classifier with the run's settings (lr: the run's, or one per model) on `device`,
    checkpointed under ckpt_dir/train.pt. `last_only`: held-out sets scored at the last epoch
    only (a search, which reads nothing else). `recipe: airbench` trains with that recipe's own
    loop (nnclaims.airbench: seconds per model on a GPU, no checkpoint, every epoch scored)."""
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
    return train_classifier(
        model,
        arrays,
        spec.epochs,
        spec.batch_size,
        spec.lr if lr is None else lr,
        on_epoch=on_epoch,
        checkpoint=ckpt_file(ckpt_dir, "train.pt"),
        tag=tag,
        optimizer=spec.optimizer,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        augment=spec.augment,
        device=device,
        shuffle=spec.shuffle,
        eval_every=spec.epochs if last_only else 1,
        precision=spec.precision,
        compile=spec.compile,
    )


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
