"""What a run asks a cluster for, sized from its hyperparameters (so a bigger experiment asks for
more without editing the profile)."""

from __future__ import annotations

import math

from nnclaims import kinds
from nnclaims.core.hparams import RunSpec
from nnclaims.data.shapes import dataset_shape  # noqa: F401 (plan.checks reads it here)

# Model-epochs (or, for the spectral probe, model-steps × 1/100) per minute on one slow core:
# about a quarter of what one laptop core managed here, so a queue's runtime limit is not hit.
# Image models: model-epochs per minute on one GPU (rough, for the queue limit only).
RATE = {
    **{"mlp": 1200, "mlp_res": 1200, "cnn": 300},
    **{"lenet": 60, "conv": 10, "vgg_he": 6, "resnet": 2, "airbench": 60},
}


def work(spec: RunSpec) -> float:
    """Model-epochs the run trains (its kind's estimate: nnclaims.kinds, Kind.work)."""
    return kinds.get(spec.kind).work(spec)


def runtime_minutes(spec: RunSpec) -> int:
    return 10 + math.ceil(work(spec) / RATE.get(spec.model, 300))


# Above this many estimated hours of training (at RATE) a run starts only after a warning that
# states the estimate: seeds: 10000 is a typo more often than a plan.
WARN_HOURS = 24


def size_warning(runs) -> str | None:
    """A warning with the estimated training hours of `runs` when they exceed WARN_HOURS."""
    hours = sum(work(s) / RATE.get(s.model, 300) for s in runs) / 60
    if hours <= WARN_HOURS:
        return None
    return (
        f"this config trains about {hours:,.0f} hours of one core (or GPU, for image models; "
        f"estimated at nnclaims.plan.resources.RATE, above the {WARN_HOURS}-hour warning): "
        "`nnclaims cost` estimates its FLOPs; stop now (Ctrl-C) if that is not what you meant"
    )


def mem_mb(spec: RunSpec) -> int:
    if spec.model in ("mlp", "mlp_res", "cnn"):
        return 4000 if spec.model == "cnn" else 2000
    return 16000  # CIFAR as float32 (600 MB) plus the model and its activations


def train_flops_per_example(spec: RunSpec) -> float:
    """FLOPs of one training example (forward + backward) of one model, counted by torch's
    FlopCounterMode on a batch of 2 (matmuls and convolutions; elementwise ops are not counted)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nnclaims.nets.build import stack as _stack

    shape, _, n_classes = dataset_shape(spec.dataset)
    d_in = shape if len(shape) > 1 else shape[0]
    model = _stack(spec, d_in, n_classes, [0])
    x = torch.randn(len(model.seeds), 2, *shape)  # one seed: one model, or one per width
    counter = FlopCounterMode(display=False)
    with counter:
        model.logits_cb(x).sum().backward()
    return counter.get_total_flops() / 2


def train_flops(spec: RunSpec) -> float:
    """FLOPs of the whole run: per example × training examples × model-epochs (its kind's
    count: Kind.flops)."""
    _, n_train, _ = dataset_shape(spec.dataset)
    return kinds.get(spec.kind).cost_flops(spec, train_flops_per_example(spec), n_train)
