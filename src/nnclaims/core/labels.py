"""Arms' names for readers, shared by the figures (nnclaims.report.plotting) and the report's text
(nnclaims.report.analysis), without importing matplotlib."""

from __future__ import annotations

ARM_LABELS = {
    "relu": "ReLU",
    "swish": "Swish-1",
    "swish_beta": "Swish (trainable β)",
    "max_sigmoid": "max(x, σ(x))",
    "mish": "Mish",
    "hat": "hat",
    "hat_wide": "hat, bump on [0, 4]",
    "hat_narrow": "hat, bump on [0, 1]",
    "hat_init3": "hat, init × 3",
    "leaky_relu": "leaky ReLU",
    "elu": "ELU",
    "selu": "SELU",
    "softplus": "softplus",
    "gelu": "GELU",
    "identity": "identity (linear)",
    "square": "x²",
    "cube": "x³",
    "abs": "|x|",
    "sin": "sin",
    "tanh": "tanh",
    "relu_cnn": "ReLU (CNN)",
    "swish_cnn": "Swish-1 (CNN)",
    "swish_beta_cnn": "Swish β (CNN)",
    "max_sigmoid_cnn": "max(x, σ(x)) (CNN)",
    "relu_shared": "ReLU, shared lr",
    "hat_shared": "hat, shared lr",
    "relu_base": "ReLU, MLPBase recipe",
    "best_set1": "best set 1",
    "best_set2": "best set 2",
    "ga2": "GA set 2",
    "mix4": "mix {relu, swish, tanh, sin}",
    "dense": "dense",
    "imp": "IMP ticket",
    "reinit": "reinitialized ticket",
    "random": "random sparse",
}


def label(arm: str) -> str:
    """An arm's name for readers; a variant <arm>_<tag> of a known arm is named after it."""
    if arm in ARM_LABELS:
        return ARM_LABELS[arm]
    base, _, tag = arm.rpartition("_")
    if base in ARM_LABELS:
        name = ARM_LABELS[base]
        return f"{name}, shared lr" if tag == "shared" else f"{name} ({tag})"
    return arm
