"""Adam over stacked parameters: each model's slice steps on its own, with its own learning rate.

Every stacked parameter has the model axis first, and Adam is elementwise, so one step over the
stack is K independent Adam steps. StackedAdam hands torch's fused Adam kernel (the one
torch.optim.Adam(fused=True) calls) one view per model and parameter, grouped by learning rate.
Why per-model views: the kernel runs a vectorised body and a scalar tail over each tensor it is
given, and the two round differently. Over a whole stacked tensor, which model's elements fall in
the tail depends on the stack's size, so a model's trajectory changed with its stack-mates (MLP,
ReLU, lr 0.01: 1e-8 after one epoch, points of accuracy by epoch 50). Over per-model views each
model's elements take the same path alone or in any stack (tests/test_invariance.py, bitwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch.optim.adam import adam as adam_functional


class StackedAdam:
    """Adam (no weight decay, no amsgrad); `lr` is one rate, or one per model (shape (K,))."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params = [p for p in params if p.requires_grad]
        (self.b1, self.b2), self.eps = betas, eps
        k = self.params[0].shape[0]
        for p in self.params:
            if p.shape[0] != k:
                raise ValueError("every stacked parameter needs the model axis first, of one size")
        lrs = [float(lr)] * k if isinstance(lr, (int, float)) else [float(x) for x in lr]
        if len(lrs) != k:
            raise ValueError(f"{len(lrs)} learning rates for a stack of {k} models")
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        self._set_lrs(lrs)

    def _set_lrs(self, lrs: list[float]) -> None:
        self.lrs = lrs
        # models grouped by learning rate: one kernel call per distinct rate
        self.groups: dict[float, list[int]] = {}
        for i, x in enumerate(lrs):
            self.groups.setdefault(x, []).append(i)

    @property
    def n_models(self) -> int:
        return len(self.lrs)

    def state_dict(self) -> dict:
        return {
            "m": [m.clone() for m in self.m],
            "v": [v.clone() for v in self.v],
            "t": self.t,
            "lr": list(self.lrs),
        }

    def load_state_dict(self, state: dict) -> None:
        for dst, src in zip(self.m + self.v, [*state["m"], *state["v"]]):
            dst.copy_(src)
        self.t = int(state["t"])
        lrs = state["lr"]
        self._set_lrs([float(x) for x in (lrs.tolist() if torch.is_tensor(lrs) else lrs)])

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        # unbind: K views per tensor in one call (creating them one by one costs ms per step)
        ps = [self.params[i].unbind(0) for i in live]
        gs = [self.params[i].grad.unbind(0) for i in live]
        ms = [self.m[i].unbind(0) for i in live]
        vs = [self.v[i].unbind(0) for i in live]
        dev = self.params[0].device
        for lr, models in self.groups.items():
            n = len(ps) * len(models)
            # the kernel adds 1 to each step counter before using it
            steps = [torch.full((), self.t - 1, dtype=torch.float32, device=dev) for _ in range(n)]
            adam_functional(
                [p[k] for p in ps for k in models],
                [g[k] for g in gs for k in models],
                [m[k] for m in ms for k in models],
                [v[k] for v in vs for k in models],
                [],
                steps,
                fused=True,
                amsgrad=False,
                beta1=self.b1,
                beta2=self.b2,
                lr=lr,
                weight_decay=0.0,
                eps=self.eps,
                maximize=False,
            )


def make_optimizer(
    params,
    lr: float | Sequence[float],
    kind: str = "adam",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    stacked: bool = True,
):
    """Adam for a stack (StackedAdam, one lr or one per model). SGD (with momentum and L2
    weight decay) for the image models' papers. `stacked=False`: separate tensors per model
    (vision.ModuleStack), where torch's fused Adam already steps each tensor on its own."""
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
    if not stacked:
        if not isinstance(lr, (int, float)):
            raise ValueError("separately built models take one learning rate per run")
        return torch.optim.Adam(params, lr=lr, fused=True)
    return StackedAdam(params, lr)
