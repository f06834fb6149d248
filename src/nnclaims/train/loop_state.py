"""What the training loop (engine.train) carries from epoch to epoch besides the
weights: which models are alive and when each diverged, and the checkpoint that holds all of it,
so that a killed and restarted run ends with exactly the numbers of an uninterrupted one."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnclaims.train import checkpoint as ckpt

log = logging.getLogger("nnclaims.train.engine")


class Divergence:
    """A model whose loss becomes NaN/inf is recorded as diverged at that epoch and leaves the
    loss from then on; the others train on (a diverged run is a result)."""

    def __init__(self, seeds: Sequence[int]):
        self.seeds = list(seeds)
        self.alive = torch.ones(len(self.seeds), dtype=torch.bool)
        self.epoch = np.zeros(len(self.seeds), dtype=np.int64)  # 0: never diverged
        self._on: torch.Tensor | None = None  # `step`'s mask on the training device

    def check(self, losses: torch.Tensor, epoch: int) -> None:
        """After a step's per-model losses (under no_grad)."""
        self._record(torch.isfinite(losses).cpu(), epoch)

    def step(self, losses: torch.Tensor) -> torch.Tensor:
        """After a step's per-model losses (under no_grad), without reading them back: the
        alive mask on the losses' device, for masking the step's loss. A GPU then never waits
        for the host within an epoch; `settle(epoch)` records the epoch's deaths at its end."""
        on = self._on
        if on is None or on.device != losses.device:
            on = self.alive.to(losses.device)
        self._on = on & torch.isfinite(losses)
        return self._on

    def settle(self, epoch: int) -> None:
        """The deaths since the last settle, recorded at `epoch` (the loop's epoch end)."""
        if self._on is not None:
            self._record(self._on.cpu(), epoch)
            self._on = None

    def _record(self, finite: torch.Tensor, epoch: int) -> None:
        newly = self.alive & ~finite
        if newly.any():
            for i in torch.nonzero(newly).flatten().tolist():
                self.epoch[i] = epoch
                log.warning("model %d (seed %d) diverged at epoch %d", i, self.seeds[i], epoch)
            self.alive &= finite

    @property
    def dead(self) -> np.ndarray:
        return ~self.alive.numpy()


@dataclass
class LoopState:
    """Everything a resumed run needs besides its settings: the models, the optimiser, the
    batch-order and augmentation generators, the divergence record and the history so far."""

    model: Any
    opt: Any
    orders: list[torch.Generator]
    aug: list[torch.Generator]
    div: Divergence
    hist: dict[str, np.ndarray]

    def save(self, path: str | os.PathLike | None, tag: str, epoch: int) -> None:
        """The whole state after `epoch` (nothing without a path)."""
        if path is None:
            return
        state = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "orders": [g.get_state() for g in self.orders],
            "aug": [g.get_state() for g in self.aug],
            **ckpt.rng_states(),  # dropout draws from the global generators
            "alive": self.div.alive,
            "diverged": torch.as_tensor(self.div.epoch),
            "hist": {m: torch.as_tensor(v) for m, v in self.hist.items()},
        }
        ckpt.save(path, tag, state)

    def resume(self, path: str | os.PathLike | None, tag: str) -> int:
        """Restore a matching `tag`'s checkpoint in place; returns the first epoch still to
        train (1 without a checkpoint)."""
        state = ckpt.load(path, tag)
        if state is None:
            return 1
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        for g, s in zip(self.orders, state["orders"]):
            g.set_state(s)
        for g, s in zip(self.aug, state.get("aug", [])):
            g.set_state(s)
        ckpt.restore_rng(state)
        self.div.alive, self.div.epoch = state["alive"], state["diverged"].numpy().copy()
        self.hist.update({m: v.numpy().copy() for m, v in state["hist"].items()})
        log.info("resuming from checkpoint %s after epoch %d", path, int(state["epoch"]))
        return int(state["epoch"]) + 1
