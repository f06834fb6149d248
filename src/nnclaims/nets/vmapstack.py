"""The K image models of a run as one batched model (`train.stacking: vmap`).

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
Under bf16, torch's autocast misses vmapped layers: `_CastLayers` casts them, and a first pass
checks that every conv and linear layer runs in the reported precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.overrides import TorchFunctionMode

from nnclaims.nets.vision import ImageStack, ModuleStack


class VmapStack(ImageStack, nn.Module):
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
        self._autocast_checked: str | None = None  # the device type autocast was checked on

    @property
    def n_models(self) -> int:
        return self._k

    @property
    def weights(self) -> list[torch.Tensor]:
        """Prunable weights, model axis first (copies, for magnitude ranking)."""
        return [self.net.get_parameter(n).detach().clone() for n in self.prunable]

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

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, C, H, W) → (K, classes, B); under autocast, first checked to take effect."""
        dev = x.device.type
        if torch.is_autocast_enabled(dev) and self._autocast_checked != dev:
            self._check_autocast(x)
            self._autocast_checked = dev
        return super().logits_cb(x)

    @torch.no_grad()
    def _check_autocast(self, x: torch.Tensor) -> None:
        """torch's autocast does not reach every op under vmap (on this CPU, torch 2.13, the
        vmapped convolutions and linear layers stayed float32 until _CastLayers cast them). A
        run that says bf16 must be bf16, so a dry pass (eval mode, one example, no gradient, no
        random draw) records each conv and linear output's dtype and refuses the run where one
        was not cast."""
        dev = x.device.type
        want = torch.get_autocast_dtype(dev)
        seen: list[tuple[str, torch.dtype]] = []
        hooks = [
            m.register_forward_hook(lambda mod, i, o, n=n: seen.append((n, o.dtype)))
            for n, m in self.net.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))
        ]
        was = self.training
        try:
            self.eval()
            self._logits_cb(x[:, :1])
        finally:
            for h in hooks:
                h.remove()
            self.train(was)
        wrong = [n for n, d in seen if d != want]
        if wrong:
            raise RuntimeError(
                f"precision bf16 with stacking vmap on {dev}: torch's autocast does not reach the "
                f"vmapped layers here ({', '.join(wrong[:3])} ran in "
                f"{dict(seen)[wrong[0]]}, not {want}). Set train.stacking: loop to train in "
                "bf16, or train.precision: fp32 to keep vmap"
            )

    def _one(self, params, buffers, x):
        return functional_call(self.net, (params, buffers), (x,))

    def _logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        params = dict(self.net.named_parameters())
        buffers = dict(self.net.named_buffers())
        dev = x.device.type
        cast = (
            _CastLayers(torch.get_autocast_dtype(dev))
            if torch.is_autocast_enabled(dev)
            else contextlib.nullcontext()
        )
        with cast:
            out = vmap(self._one, randomness="different")(params, buffers, x)
        return out.transpose(1, 2)

    def forward(self, x):
        return self.logits_cb(x).transpose(1, 2)

    def n_weights(self) -> int:
        return sum(self.net.get_parameter(n)[0].numel() for n in self.prunable)


class _CastLayers(TorchFunctionMode):
    """Autocast's cast of the convolutions' and linear layers' inputs, done before vmap sees
    them. Under vmap these layers reach autocast as other ops (a batched convolution is
    aten.convolution, which the CPU's autocast does not list), so they would stay float32; here
    their tensors are cast to the autocast dtype as autocast casts them in the loop, and the
    gradients flow back through the casts to the float32 weights."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _CAST:
            args = tuple(_to(a, self.dtype) for a in args)
            kwargs = {k: _to(v, self.dtype) for k, v in kwargs.items()}
        elif func is F.batch_norm and args[0].dtype == self.dtype:
            # the loop's BatchNorm takes bfloat16 input with float32 statistics and affine
            # parameters (computing in float32 inside); vmap's BatchNorm wants one dtype:
            # the same sums in float32, the output back in bfloat16
            return func(args[0].float(), *args[1:], **kwargs).to(self.dtype)
        return func(*args, **kwargs)


_CAST = (F.conv2d, F.linear)


def _to(t, dtype: torch.dtype):
    return t.to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else t


def _set(module: nn.Module, name: str, t: torch.Tensor, parameter: bool) -> None:
    """Replace the parameter or buffer `name` (dotted) of `module` by `t`."""
    *path, leaf = name.split(".")
    owner = module.get_submodule(".".join(path)) if path else module
    if parameter:
        owner.register_parameter(leaf, t)
    else:
        owner.register_buffer(leaf, t)
