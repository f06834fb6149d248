"""Activation functions and the registry of names.

Every function is elementwise, so the same code serves one model (B, H) and K stacked models
(K, B, H). `swish_beta` has a trainable β per model and layer; mixed layers split their units
evenly among several functions (contiguous slices, in the order given).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnclaims.core import catalog
from nnclaims.nets import searchspace
from nnclaims.nets.stacked_ops import simd_vector


def hat(x: torch.Tensor) -> torch.Tensor:
    """Hat(x) = x on [0,1], 2−x on [1,2], 0 elsewhere (Wang, Xu & Zhu 2022, eq. 1)."""
    return F.relu(x) - 2 * F.relu(x - 1) + F.relu(x - 2)


def swish(x: torch.Tensor) -> torch.Tensor:
    """Swish-1: x·σ(x) (Ramachandran et al. 2017, β = 1)."""
    return x * torch.sigmoid(x)


class _MaxSigmoid(torch.autograd.Function):
    """max(x, σ(x)) with autograd's gradient, bit for bit, in 5 passes over x where autograd's
    maximum and sigmoid backward take 10 (2× faster; it was the costliest arm of the default run).
    Ties x = σ(x) happen (x = 0.659046 in float32 is one): each side gets half, as in autograd.
    Under torch.func.vmap (`train.stacking: vmap`) it maps as the elementwise op it is."""

    @staticmethod
    def forward(x):
        s = torch.sigmoid(x)
        return torch.maximum(x, s), s  # σ(x) kept for backward (max_sigmoid returns the first)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output[1])
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)  # σ(x)'s gradient is never used: no zeros filled

    @staticmethod
    def backward(ctx, g, _):
        x, s = ctx.saved_tensors
        out = torch.where(x > s, g, torch.ops.aten.sigmoid_backward(g, s))
        tie = x == s
        if tie.any():
            half = g / 2
            out = torch.where(tie, half + torch.ops.aten.sigmoid_backward(half, s), out)
        return out

    @staticmethod
    def vmap(info, in_dims, x):
        return _MaxSigmoid.apply(x), (in_dims[0], in_dims[0])


def max_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """max(x, σ(x)), one of the functions found by the Swish paper's search."""
    return _MaxSigmoid.apply(x)[0]


def per_model(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """fn(x) for a stack x (K, ...), each model's values computed exactly as they are alone.

    torch's CPU loops run a vectorised body and a scalar tail over a tensor, and for exp, sin,
    tanh and friends the two round differently, so which of a model's elements land in the tail
    would depend on its place in the stack. Here fn runs once over the whole stack flattened and
    padded to a whole number of vector steps: every element takes the vectorised path, whose
    lanes are independent, alone or in any stack."""
    n = x.numel()
    pad = -n % (2 * simd_vector(x.dtype))  # torch's loops step two vectors at a time
    if x.device.type != "cpu" or fn in EXACT or pad == 0 and x.is_contiguous():
        return fn(x)
    flat = torch.cat([x.reshape(-1), x.new_zeros(pad)])
    return fn(flat)[:n].view(x.shape)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "swish": swish,
    "max_sigmoid": max_sigmoid,
    "mish": F.mish,  # x·tanh(softplus(x)) (Misra 2019); torch's fused kernel and gradient
    "hat": hat,
    "hat_wide": lambda x: 2 * hat(x / 2),  # the bump stretched to [0, 4], peak 2
    "hat_narrow": lambda x: hat(2 * x) / 2,  # squeezed to [0, 1], peak 1/2
    "tanh": torch.tanh,
    "sin": torch.sin,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "gelu": F.gelu,
    "identity": lambda x: x,
    # polynomials: with them a network is a polynomial of its input, no universal approximator
    # (Leshno et al. 1993); x·x and x·x·x are single IEEE products, exact in any stack
    "square": lambda x: x * x,
    "cube": lambda x: x * x * x,
    "abs": torch.abs,  # |x| and softplus(x) + |x|: functions of the thesis's GA-evolved set 2
    "softplus_abs": lambda x: F.softplus(x) + torch.abs(x),
}
# made of single IEEE operations (max, add, multiply by a constant): a SIMD lane and the
# scalar tail give the same bits, so per_model need not split them
EXACT = {
    ACTIVATIONS[n]
    for n in ("relu", "hat", "hat_wide", "hat_narrow", "identity", "abs", "square", "cube")
}
TRAINABLE = catalog.TRAINABLE  # x·σ(βx) with β learned (SwishBeta)
catalog.agree("nnclaims.nets.activations", ACTIVATIONS, catalog.ACTIVATIONS)
known = catalog.known_activations


def get(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The function for a fixed activation name; a clear error for an unknown one."""
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if searchspace.is_expression(name):  # a function of the activation search, by its name
        return _expression(name)
    if name in TRAINABLE:
        raise ValueError(f"Activation {name!r} is trainable: build it with make_layer_activation()")
    raise ValueError(f"No such activation: {name!r}. Known: {', '.join(known())}")


@functools.cache
def _expression(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return searchspace.build(name)  # one function object per name: Fixed modules share it


class SwishBeta(nn.Module):
    """x·σ(βx) with one trainable β per stacked model (β has shape (K,), x is (K, ...)).

    Within a stack of several arms (PerModel) it serves models lo..hi of K; β still has one entry
    per model of the stack, so optimizers that step the stack see the model axis first."""

    def __init__(self, n_models: int, lo: int = 0, hi: int | None = None):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(n_models))
        self.lo, self.hi = lo, n_models if hi is None else hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta[self.lo : self.hi].view(-1, *([1] * (x.dim() - 1)))
        return x * per_model(torch.sigmoid, beta * x)  # the products are exact IEEE operations


class Fixed(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = get(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_model(self.fn, x)


class Mixed(nn.Module):
    """Units of the layer split evenly among several functions (the last slice takes any rest)."""

    def __init__(
        self, names: Sequence[str], width: int, n_models: int, models: tuple[int, int] | None = None
    ):
        super().__init__()
        if width < len(names):
            raise ValueError(
                f"A layer of {width} units cannot be split among {len(names)} functions"
            )
        step = width // len(names)
        self.bounds = [
            (i * step, (i + 1) * step if i < len(names) - 1 else width) for i in range(len(names))
        ]
        self.parts = nn.ModuleList(_single(n, n_models, models) for n in names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(x, [b - a for a, b in self.bounds], dim=-1)  # see PerModel
        return torch.cat([f(p) for f, p in zip(self.parts, pieces)], dim=-1)


def _single(name: str, n_models: int, models: tuple[int, int] | None = None) -> nn.Module:
    if name == "swish_beta":
        return SwishBeta(n_models, *(models or (0, n_models)))
    return Fixed(name)


def make_layer_activation(
    names: Sequence[str], width: int, n_models: int, models: tuple[int, int] | None = None
) -> nn.Module:
    """The activation of one hidden layer: one function, or an even within-layer mix of several.
    `models`: the slice of a K-model stack this activation serves (PerModel), K = n_models."""
    names = list(names)
    if not names:
        raise ValueError("An activation needs at least one function name")
    for n in names:
        if n not in ACTIVATIONS and n not in TRAINABLE and not searchspace.is_expression(n):
            raise ValueError(f"No such activation: {n!r}. Known: {', '.join(known())}")
    if len(names) == 1:
        return _single(names[0], n_models, models)
    return Mixed(names, width, n_models, models)


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
        k = len(specs)
        self.parts = nn.ModuleList(
            make_layer_activation(g, width, k, (a, b)) for g, (a, b) in zip(groups, self.bounds)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.parts) == 1:
            return self.parts[0](x)
        # split, not x[a:b]: each slice's backward would fill a zero tensor of the whole stack
        # (quadratic in the number of parts: 76 % of a 100-function search's time)
        pieces = torch.split(x, [b - a for a, b in self.bounds], dim=0)
        return torch.cat([f(p) for f, p in zip(self.parts, pieces)], dim=0)


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


def layer_functions(activation: Sequence[str], layer_acts: Sequence[str], n: int) -> list[str]:
    """One function name per layer slot (n slots): a per-layer set spread evenly over the slots
    (each of a 2-block set's functions serves 2 blocks of a 4-block net, as in the thesis), else
    the run's single activation. A within-layer mix cannot also be a per-layer set."""
    if layer_acts:
        return [layer_acts[i * len(layer_acts) // n] for i in range(n)]
    if len(activation) != 1:
        raise ValueError(
            f"Image models take one activation or a per-layer set, not a within-layer mix "
            f"{list(activation)}"
        )
    return [activation[0]] * n
