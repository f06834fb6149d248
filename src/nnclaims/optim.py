"""Adam over stacked parameters, with one learning rate per model when asked for.

Every stacked parameter has the model axis first, and Adam is elementwise, so one step over the
stack is K independent Adam steps. With a single learning rate torch's fused Adam kernel does
this in one call (FusedAdam); with a learning rate per model, StackedAdam applies the same
update as torch.optim.Adam (same formula and order of operations) with lr broadcast along the
model axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch.optim.adam import adam as adam_functional


class _AdamBase:
    """Parameters and first/second moments of an Adam over stacked tensors, saved and restored
    with the subclass's own fields (`_extra`)."""

    def __init__(self, params: Iterable[torch.Tensor], betas: tuple[float, float], eps: float):
        self.params = [p for p in params if p.requires_grad]
        (self.b1, self.b2), self.eps = betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def _extra(self) -> dict:
        return {}

    def _load_extra(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {"m": [m.clone() for m in self.m], "v": [v.clone() for v in self.v], **self._extra()}

    def load_state_dict(self, state: dict) -> None:
        for dst, src in zip(self.m + self.v, [*state["m"], *state["v"]]):
            dst.copy_(src)
        self._load_extra(state)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None


class FusedAdam(_AdamBase):
    """torch's fused Adam kernel (the same one torch.optim.Adam(fused=True) calls, bit for bit)
    over all stacked tensors in one call, without torch.optim.Optimizer: its first use imports
    torch._dynamo, 1 s of every short job's start-up on this machine."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, betas, eps)
        self.lr = float(lr)
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in self.params]

    def _extra(self) -> dict:
        return {"lr": self.lr, "steps": [s.clone() for s in self.steps]}

    def _load_extra(self, state: dict) -> None:
        self.lr = float(state["lr"])
        for dst, src in zip(self.steps, state["steps"]):
            dst.copy_(src)

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        adam_functional(
            [self.params[i] for i in live],
            [self.params[i].grad for i in live],
            [self.m[i] for i in live],
            [self.v[i] for i in live],
            [],
            [self.steps[i] for i in live],  # the kernel counts the steps itself
            fused=True,
            amsgrad=False,
            beta1=self.b1,
            beta2=self.b2,
            lr=self.lr,
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
        )


class StackedAdam(_AdamBase):
    """Adam (no weight decay, no amsgrad); lr has shape (K,), along each parameter's first axis."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, betas, eps)
        self.lr = torch.as_tensor(list(lr), dtype=torch.float64)
        self.t = 0
        for p in self.params:
            if p.shape[0] != len(self.lr):
                raise ValueError(
                    f"{len(self.lr)} learning rates for a stack of {p.shape[0]} models"
                )

    def _extra(self) -> dict:
        return {"t": self.t, "lr": self.lr.clone()}

    def _load_extra(self, state: dict) -> None:
        self.t, self.lr = int(state["t"]), state["lr"].clone()

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        bc1 = 1 - self.b1**self.t
        bc2_sqrt = math.sqrt(1 - self.b2**self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            m.lerp_(g, 1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
            step = (self.lr / bc1).to(p.device, p.dtype).view(-1, *([1] * (p.dim() - 1)))
            p.sub_(step * m / denom)


def make_optimizer(
    params,
    lr: float | Sequence[float],
    kind: str = "adam",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
):
    """Adam for a stack: fused torch Adam for one lr, StackedAdam for one lr per model.
    SGD (with momentum and L2 weight decay) for the image models' papers."""
    params = list(params)
    if kind == "sgd":
        if not isinstance(lr, (int, float)):
            raise ValueError("SGD takes one learning rate per run")
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True
        )
    if kind != "adam":
        raise ValueError(f"No such optimizer: {kind!r}. Known: adam, sgd")
    if weight_decay:
        if not isinstance(lr, (int, float)):
            raise ValueError("Adam with weight decay takes one learning rate per run")
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if isinstance(lr, (int, float)):
        if all(p.device.type == "cpu" for p in params):
            return FusedAdam(params, lr)
        return torch.optim.Adam(params, lr=lr, fused=True)  # CUDA: torch's own, as is
    return StackedAdam(params, lr)
