"""The K image models of a run as one batched model (`train.stacking: vmap`, #17 part 2).

vision.ModuleStack runs K separately built modules one after another: on a GPU each small
convolution is its own kernel launch, K times over, and launches set the pace (ResNet-56 at
batch 128 sustained 3.2 TFLOP/s on an H100). Here the K models' parameters and buffers are
stacked along a leading model axis on one skeleton module, and its forward pass is mapped over
that axis with torch.func.vmap: each layer runs once for all K (a convolution becomes one
grouped convolution), so a step launches as many kernels as one model's.

The models are built exactly as ModuleStack builds them (each from its own init seed), so both
start from the same weights; they then differ only by floating-point order (a grouped
convolution sums in another order) and by the dropout draws (drawn for all K at once,
`randomness="different"`). The optimizer steps the stacked tensors, which for SGD and Adam is
elementwise: each model's update is its own. The state holds one tensor per parameter or buffer
with the model axis first, like the MLP stacks, so `weights.select` and `concat` apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .vision import Compilable, ModuleStack


class VmapStack(Compilable, nn.Module):
    """K models of one architecture, stacked: the stack interface of vision.ModuleStack."""

    def __init__(
        self, seeds: Sequence[int], init_seeds: Sequence[int], make: Callable[[], nn.Module]
    ):
        super().__init__()
        loop = ModuleStack(seeds, init_seeds, make)  # the same init, model by model
        self.seeds = list(seeds)
        self.prunable = list(loop.prunable)
        params, buffers = stack_module_state(list(loop.members))
        self.net = loop.members[0]  # the skeleton: its tensors replaced by the stacked ones
        for name, t in params.items():
            p = nn.Parameter(t.detach(), requires_grad=self.net.get_parameter(name).requires_grad)
            _set(self.net, name, p, parameter=True)
        for name, t in buffers.items():
            _set(self.net, name, t.detach().clone(), parameter=False)
        self._k = len(self.seeds)
        self.masks: list[torch.Tensor] | None = None

    @property
    def n_models(self) -> int:
        return self._k

    @property
    def weights(self) -> list[torch.Tensor]:
        """Prunable weights, model axis first (copies, for magnitude ranking)."""
        return [self.net.get_parameter(n).detach().clone() for n in self.prunable]

    def set_masks(self, masks: Sequence[torch.Tensor] | None) -> None:
        if masks is None:
            self.masks = None
            return
        if len(masks) != len(self.prunable):
            raise ValueError(f"Expected {len(self.prunable)} masks, got {len(masks)}")
        dev = self.net.get_parameter(self.prunable[0]).device
        self.masks = [m.to(dev) for m in masks]
        self.after_step()

    @torch.no_grad()
    def after_step(self, member: int | None = None) -> None:
        """Re-zero pruned weights (momentum may have moved them): every model's, or one's."""
        if self.masks is None:
            return
        for name, mask in zip(self.prunable, self.masks):
            p = self.net.get_parameter(name)
            if member is None:
                p.mul_(mask.to(p.dtype))
            else:
                p[member].mul_(mask[member].to(p.dtype))

    def _one(self, params, buffers, x):
        return functional_call(self.net, (params, buffers), (x,))

    def _logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        params = dict(self.net.named_parameters())
        buffers = dict(self.net.named_buffers())
        out = vmap(self._one, randomness="different")(params, buffers, x)
        return out.transpose(1, 2)

    def forward(self, x):
        return self.logits_cb(x).transpose(1, 2)

    def n_weights(self) -> int:
        return sum(self.net.get_parameter(n)[0].numel() for n in self.prunable)


def _set(module: nn.Module, name: str, t: torch.Tensor, parameter: bool) -> None:
    """Replace the parameter or buffer `name` (dotted) of `module` by `t`."""
    *path, leaf = name.split(".")
    owner = module.get_submodule(".".join(path)) if path else module
    if parameter:
        owner.register_parameter(leaf, t)
    else:
        owner.register_buffer(leaf, t)
