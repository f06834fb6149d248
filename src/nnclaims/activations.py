"""Activation functions and the registry of names.

Every function is elementwise, so the same code serves one model (B, H) and K stacked models
(K, B, H). `swish_beta` has a trainable β per model and layer; mixed layers split their units
evenly among several functions (contiguous slices, in the order given).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def hat(x: torch.Tensor) -> torch.Tensor:
    """Hat(x) = x on [0,1], 2−x on [1,2], 0 elsewhere (Wang, Xu & Zhu 2022, eq. 1)."""
    return F.relu(x) - 2 * F.relu(x - 1) + F.relu(x - 2)


def swish(x: torch.Tensor) -> torch.Tensor:
    """Swish-1: x·σ(x) (Ramachandran et al. 2017, β = 1)."""
    return x * torch.sigmoid(x)


def max_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """max(x, σ(x)), one of the functions found by the Swish paper's search."""
    return torch.maximum(x, torch.sigmoid(x))


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "swish": swish,
    "max_sigmoid": max_sigmoid,
    "hat": hat,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "gelu": F.gelu,
    "identity": lambda x: x,
}
TRAINABLE = ("swish_beta",)  # x·σ(βx) with β learned, one β per model and layer, β0 = 1


def known() -> list[str]:
    return sorted([*ACTIVATIONS, *TRAINABLE])


def get(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The function for a fixed activation name; a clear error for an unknown one."""
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if name in TRAINABLE:
        raise ValueError(f"Activation {name!r} is trainable: build it with make_layer_activation()")
    raise ValueError(f"No such activation: {name!r}. Known: {', '.join(known())}")


class SwishBeta(nn.Module):
    """x·σ(βx) with one trainable β per stacked model (β has shape (K,), x is (K, ...))."""

    def __init__(self, n_models: int):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(n_models))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta.view(-1, *([1] * (x.dim() - 1)))
        return x * torch.sigmoid(beta * x)


class Fixed(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = get(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Mixed(nn.Module):
    """Units of the layer split evenly among several functions (the last slice takes any rest)."""

    def __init__(self, names: Sequence[str], width: int, n_models: int):
        super().__init__()
        if width < len(names):
            raise ValueError(
                f"A layer of {width} units cannot be split among {len(names)} functions"
            )
        step = width // len(names)
        self.bounds = [
            (i * step, (i + 1) * step if i < len(names) - 1 else width) for i in range(len(names))
        ]
        self.parts = nn.ModuleList(_single(n, n_models) for n in names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([f(x[..., a:b]) for f, (a, b) in zip(self.parts, self.bounds)], dim=-1)


def _single(name: str, n_models: int) -> nn.Module:
    if name == "swish_beta":
        return SwishBeta(n_models)
    return Fixed(name)


def make_layer_activation(names: Sequence[str], width: int, n_models: int) -> nn.Module:
    """The activation of one hidden layer: one function, or an even within-layer mix of several."""
    names = list(names)
    if not names:
        raise ValueError("An activation needs at least one function name")
    for n in names:
        if n not in ACTIVATIONS and n not in TRAINABLE:
            raise ValueError(f"No such activation: {n!r}. Known: {', '.join(known())}")
    if len(names) == 1:
        return _single(names[0], n_models)
    return Mixed(names, width, n_models)


class PerModel(nn.Module):
    """Different activations for different models of one stack (arms trained together).

    Models with the same spec that sit next to each other share one module; the stack is sliced
    along the model axis, each slice gets its function, and the slices are joined again.
    """

    def __init__(self, specs: Sequence[Sequence[str]], width: int):
        super().__init__()
        self.bounds: list[tuple[int, int]] = []
        groups: list[tuple[str, ...]] = []
        for i, spec in enumerate(map(tuple, specs)):
            if groups and groups[-1] == spec:
                self.bounds[-1] = (self.bounds[-1][0], i + 1)
            else:
                groups.append(spec)
                self.bounds.append((i, i + 1))
        self.parts = nn.ModuleList(
            make_layer_activation(g, width, b - a) for g, (a, b) in zip(groups, self.bounds)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.parts) == 1:
            return self.parts[0](x)
        return torch.cat([f(x[a:b]) for f, (a, b) in zip(self.parts, self.bounds)], dim=0)


def stack_activation(activation, width: int, n_models: int) -> nn.Module:
    """One layer's activation for a stack: a spec shared by all models (a list of names), or one
    spec per model (a list of K lists of names)."""
    if isinstance(activation, str):
        raise ValueError(f"Give activations as a list of names, e.g. [{activation!r}]")
    specs = list(activation)
    if specs and not isinstance(specs[0], str):
        if len(specs) != n_models:
            raise ValueError(f"{len(specs)} activation specs for a stack of {n_models} models")
        return PerModel(specs, width)
    return make_layer_activation(specs, width, n_models)
