"""K independent MLPs of one shape, stored stacked along a leading model axis.

Weights are (K, fan_in, fan_out), so every linear layer is one batched matmul (`baddbmm`) for all
K models. Each model is initialised from its own seed exactly as `torch.nn.Linear` would
(U(−1/√fan_in, 1/√fan_in) for weights and biases), times an optional init scale, so model k of a
stack equals a stack of one built with the same seed. Optional masks (same shape as the weights)
zero pruned connections in the forward pass, so pruned weights get no gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from . import seeding
from .activations import make_layer_activation

MODELS = ("mlp",)


def get_model_name(name: str) -> str:
    if name not in MODELS:
        raise ValueError(f"No such model: {name!r}. Known: {', '.join(MODELS)}")
    return name


def layer_sizes(d_in: int, depth: int, width: int, d_out: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each linear layer: `depth` hidden layers of `width` units."""
    dims = [d_in] + [width] * depth + [d_out]
    return list(zip(dims[:-1], dims[1:]))


def init_weights(torch_seed: int, sizes: Sequence[tuple[int, int]], scale: float = 1.0,
                 dtype=torch.float32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One model's (weight, bias) per layer, nn.Linear's default law, from its own generator."""
    g = torch.Generator().manual_seed(torch_seed)
    out = []
    for fan_in, fan_out in sizes:
        bound = scale / math.sqrt(fan_in)
        w = (torch.rand(fan_in, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(1, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        out.append((w.to(dtype), b.to(dtype)))
    return out


class StackedMLP(nn.Module):
    """K MLPs: d_in → [width] × depth → d_out, one activation spec shared by all K."""

    def __init__(self, seeds: Sequence[int], d_in: int, depth: int, width: int, d_out: int,
                 activation: Sequence[str], init_scale: float = 1.0,
                 init_seeds: Sequence[int] | None = None, dtype=torch.float32):
        """`seeds` are the run seeds (they also fix each model's batch order); the weights come from
        `init_seeds` (torch seeds) when given, else from each run seed's "init" stream."""
        super().__init__()
        self.seeds = list(seeds)
        self.sizes = layer_sizes(d_in, depth, width, d_out)
        if init_seeds is None:
            init_seeds = [seeding.derive_seed(s, "init") for s in self.seeds]
        if len(init_seeds) != len(self.seeds):
            raise ValueError("init_seeds must give one seed per model")
        per_model = [init_weights(s, self.sizes, init_scale, dtype) for s in init_seeds]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m[i][0] for m in per_model])) for i in range(len(self.sizes)))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m[i][1] for m in per_model])) for i in range(len(self.sizes)))
        k = len(self.seeds)
        self.acts = nn.ModuleList(make_layer_activation(activation, width, k) for _ in range(depth))
        self.masks: list[torch.Tensor] | None = None

    @property
    def n_models(self) -> int:
        return len(self.seeds)

    def set_masks(self, masks: Sequence[torch.Tensor] | None) -> None:
        """Masks, one (K, fan_in, fan_out) 0/1 tensor per layer; masked weights are zeroed too."""
        if masks is None:
            self.masks = None
            return
        if len(masks) != len(self.weights):
            raise ValueError(f"Expected {len(self.weights)} masks, got {len(masks)}")
        self.masks = [m.to(self.weights[0].dtype) for m in masks]
        with torch.no_grad():
            for w, m in zip(self.weights, self.masks):
                if m.shape != w.shape:
                    raise ValueError(f"Mask shape {tuple(m.shape)} != weight shape {tuple(w.shape)}")
                w.mul_(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, d_in) → logits (K, B, d_out)."""
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if self.masks is not None:
                w = w * self.masks[i]
            x = torch.baddbmm(b, x, w)
            if i < n - 1:
                x = self.acts[i](x)
        return x

    def n_weights(self) -> int:
        """Prunable weights per model (biases excluded)."""
        return sum(fi * fo for fi, fo in self.sizes)
