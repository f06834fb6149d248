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

from nnclaims.nets.stacked_ops import simd_vector


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
        """Group the models by learning rate (one kernel call per distinct rate) and make the
        views the kernel steps, once: every update is in place, so they stay valid."""
        self.lrs = lrs
        groups: dict[float, list[int]] = {}
        for i, x in enumerate(lrs):
            groups.setdefault(x, []).append(i)
        # per lr, per parameter: the model spans [a, b) stepped as one view each, the views of
        # parameter, m and v there, and the kernel's step counters
        self.spans, self.views, self.steps, self._flat = {}, {}, {}, {}
        for lr, models in groups.items():
            self.spans[lr] = [self._spans(p, models) for p in self.params]
            self.views[lr] = []
            for p, m, v, sp in zip(self.params, self.m, self.v, self.spans[lr]):
                self.views[lr].append(tuple([t[a:b] for a, b in sp] for t in (p, m, v)))
            # one step counter for all the group's views: they all take every step
            self.steps[lr] = torch.full((), float(self.t), device=self.params[0].device)

    @staticmethod
    def _spans(p: torch.Tensor, models: list[int]) -> list[tuple[int, int]]:
        """Where a model's slice is a whole number of SIMD vectors, each run of neighbouring
        models is one view (the kernel's scalar tail then touches no element, alone or stacked,
        and fewer views cost less: ~8 µs a tensor here); else one view a model."""
        if p[0].numel() % simd_vector(p.dtype) != 0:
            return [(k, k + 1) for k in models]
        spans = [(models[0], models[0] + 1)]
        for k in models[1:]:
            if k == spans[-1][1]:
                spans[-1] = (spans[-1][0], k + 1)
            else:
                spans.append((k, k + 1))
        return spans

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
        """torch's fused Adam kernel, called as torch.optim.Adam(fused=True) calls it, minus its
        Python wrapper: that groups the tensors by device and adds 1 to each view's own step
        counter (one add_ a view on CPU, ~6 % of a width sweep's time); here one counter serves
        a group. The kernel reads the counter and nothing else changes: the same numbers."""
        self.t += 1
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        for lr, spans in self.spans.items():
            if len(live) == len(self.params):  # the usual case: lists made once
                ps, ms, vs = self._flat.setdefault(lr, self._flatten(lr, live))
            else:
                ps, ms, vs = self._flatten(lr, live)
            step = self.steps[lr]
            step.fill_(float(self.t))
            torch._fused_adam_(
                ps,
                # gradients are new tensors every step: their views are made here
                [self.params[i].grad[a:b] for i in live for a, b in spans[i]],
                ms,
                vs,
                [],
                [step] * len(ps),
                amsgrad=False,
                lr=lr,
                beta1=self.b1,
                beta2=self.b2,
                weight_decay=0.0,
                eps=self.eps,
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )

    def _flatten(self, lr: float, live: list[int]) -> tuple[list[torch.Tensor], ...]:
        views = self.views[lr]
        return tuple([x for i in live for x in views[i][j]] for j in range(3))


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
