"""A run's stack of K models, from its hyperparameters: the stacked MLP/CNN of nnclaims.nets.models,
an image architecture (nnclaims.nets.vision) as K modules or one vmapped model, or a kind's own
stack (Kind.build, e.g. a width sweep's seeds at every width)."""

from __future__ import annotations

import torch

from nnclaims.core import seeding
from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import get
from nnclaims.data.datasets import Draws
from nnclaims.nets import vision
from nnclaims.nets.models import Stacked, get_model
from nnclaims.nets.vmapstack import VmapStack


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
