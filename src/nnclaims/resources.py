"""What a run asks a cluster for, sized from its hyperparameters (so a bigger experiment asks for
more without editing the profile)."""

from __future__ import annotations

import math

from .hparams import RunSpec

# Model-epochs (or, for the spectral probe, model-steps × 1/100) per minute on one slow core:
# about a quarter of what one laptop core managed here, so a queue's runtime limit is not hit.
RATE = {"mlp": 1200, "cnn": 300}


def work(spec: RunSpec) -> float:
    """Model-epochs the run trains."""
    models = len(spec.seeds) * (spec.prune_rounds if spec.kind == "control" else 1)
    trainings = spec.prune_rounds + 1 if spec.kind == "imp" else 1
    epochs = spec.epochs / 100 if spec.kind == "spectral" else spec.epochs
    return models * trainings * epochs


def runtime_minutes(spec: RunSpec) -> int:
    return 10 + math.ceil(work(spec) / RATE.get(spec.model, 300))


def mem_mb(spec: RunSpec) -> int:
    return 2000 if spec.model == "mlp" else 4000
