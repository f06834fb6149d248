"""Magnitude pruning masks for stacked models (Frankle & Carbin 2019).

Masks are per model and per layer, 0/1 tensors shaped like the stacked weights (K, in, out).
IMP prunes a fraction of each layer's *remaining* weights by magnitude each round (the output
layer at half the rate, as in the paper); survivors are then reset to θ0 by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

PRUNERS = ("imp", "reinit", "random", "long")  # long: ticket and controls again, longer


def get_pruner(name: str) -> str:
    if name not in PRUNERS:
        raise ValueError(f"No such pruning variant: {name!r}. Known: {', '.join(PRUNERS)}")
    return name


def layer_rates(n_layers: int, fraction: float) -> list[float]:
    """Per-layer pruning rate: `fraction` for hidden layers, half of it for the output layer."""
    if not 0 < fraction < 1:
        raise ValueError(f"prune fraction must lie in (0, 1), got {fraction}")
    return [fraction] * (n_layers - 1) + [fraction / 2]


def rates_for(weights: Sequence[torch.Tensor], fraction: float, conv_fraction: float = 0.0):
    """Per-layer rates for stacked weights: conv layers (5-D stacks, image models) at
    `conv_fraction` when given (Frankle & Carbin: 10-15 % for conv, 20 % for dense), the
    others at `fraction`, the output layer at half of it."""
    rates = layer_rates(len(weights), fraction)
    if conv_fraction:
        rates = [conv_fraction if w.dim() == 5 else r for w, r in zip(weights, rates)]
    return rates


def prune_by_magnitude(
    weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], rates: Sequence[float]
) -> list[torch.Tensor]:
    """New masks dropping `rate` of each layer's surviving weights of smallest |w|, per model."""
    new = []
    for w, m, rate in zip(weights, masks, rates):
        k = w.shape[0]
        flat_w = w.detach().abs().reshape(k, -1)
        flat_m = m.reshape(k, -1).bool()
        alive = flat_m.sum(dim=1)
        n_keep = torch.round(alive.double() * (1 - rate)).long()
        score = torch.where(flat_m, flat_w, torch.full_like(flat_w, -1.0))  # pruned ones rank last
        order = torch.argsort(score, dim=1, descending=True, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(order.shape[1]).expand(k, -1).contiguous())
        new.append((ranks < n_keep[:, None]).to(m.dtype).reshape(m.shape))
    return new


def random_masks_like(
    masks: Sequence[torch.Tensor], torch_seeds: Sequence[int]
) -> list[torch.Tensor]:
    """Random masks with exactly the same number of survivors per model and layer."""
    gens = [torch.Generator().manual_seed(s) for s in torch_seeds]
    out = []
    for m in masks:
        k = m.shape[0]
        flat = m.reshape(k, -1)
        rows = []
        for i in range(k):
            n_keep = int(flat[i].sum())
            perm = torch.randperm(flat.shape[1], generator=gens[i])
            row = torch.zeros(flat.shape[1], dtype=m.dtype)
            row[perm[:n_keep]] = 1
            rows.append(row)
        out.append(torch.stack(rows).reshape(m.shape))
    return out


def kept(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Count of prunable weights left per model, over all layers (K,)."""
    return sum(m.reshape(m.shape[0], -1).sum(dim=1) for m in masks).double()


def prunable(masks: Sequence[torch.Tensor]) -> int:
    """Count of prunable weights of one model (masks or the stacked weights they cover)."""
    return sum(m[0].numel() for m in masks)


def remaining_fraction(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Fraction of weights left per model, over all layers (K,)."""
    return kept(masks) / prunable(masks)
