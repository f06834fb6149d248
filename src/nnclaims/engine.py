"""Training loops for K stacked models at once (see models.Stacked).

Each model keeps its own init, its own shuffled batch order and its own Adam state: the loss is
the sum of per-model means, so gradients never mix, and Adam is elementwise, so model k trains
exactly as it would alone. A model whose loss becomes NaN/inf is recorded as diverged at that
epoch and left out of the loss from then on; the others train on. A diverged run is a result.

Speed (2-core CPU, torch 2.13): about 40 model-epochs/s for eight 40-100-100-10 MLPs on
MNIST-1D in one single-thread process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint as ckpt
from . import seeding
from .models import Stacked
from .optim import make_optimizer

log = logging.getLogger(__name__)


@dataclass
class Arrays:
    """A classification dataset as tensors: x (N, D) float, y (N,) int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _per_model_ce(logits_cb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per model; logits in (K, classes, B), cross_entropy's class axis 1."""
    return F.cross_entropy(logits_cb, y, reduction="none").mean(dim=1)


@torch.no_grad()
def evaluate(model: Stacked, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-model (loss, accuracy in %) on one shared set."""
    k = model.n_models
    logits = model.logits_cb(x.unsqueeze(0).expand(k, -1, -1))
    yk = y.unsqueeze(0).expand(k, -1)
    loss = _per_model_ce(logits, yk)
    acc = (logits.argmax(1) == yk).to(torch.float64).mean(dim=1) * 100
    return loss.double().numpy(), acc.numpy()


def train_classifier(
    model: Stacked,
    data: Arrays,
    epochs: int,
    batch_size: int,
    lr: float | Sequence[float],
    on_epoch: Callable[[int, dict], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    tag: str = "train",
) -> dict[str, np.ndarray]:
    """Train all K models for `epochs` epochs of minibatch Adam (`lr`: one, or one per model).

    Returns per-epoch arrays of shape (epochs, K): train_loss (mean over the epoch's batches),
    test_loss, test_acc; and `diverged_epoch` (K,), 0 where a model never diverged.
    With `checkpoint`, the whole state (weights, Adam, batch-order generators, history) is saved
    after every epoch and a matching `tag`'s checkpoint is resumed: a killed and restarted run
    ends with exactly the numbers of an uninterrupted one.
    """
    k = model.n_models
    n = data.x_train.shape[0]
    steps = n // batch_size  # drop the last partial batch so every model sees equal batches
    if steps == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the training set ({n})")
    orders = [seeding.generator(s, "order") for s in model.seeds]
    opt = make_optimizer(model.parameters(), lr)
    alive = torch.ones(k, dtype=torch.bool)
    diverged = np.zeros(k, dtype=np.int64)
    hist = {m: np.full((epochs, k), np.nan) for m in ("train_loss", "test_loss", "test_acc")}
    start = 1
    state = ckpt.load(checkpoint, tag)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        for g, s in zip(orders, state["orders"]):
            g.set_state(s)
        alive, diverged = state["alive"], state["diverged"].numpy().copy()
        hist = {m: v.numpy().copy() for m, v in state["hist"].items()}
        start = int(state["epoch"]) + 1
        log.info("resuming from checkpoint %s after epoch %d", checkpoint, start - 1)
    t0 = time.perf_counter()
    for epoch in range(start, epochs + 1):
        perm = torch.stack([torch.randperm(n, generator=g) for g in orders])  # (K, N)
        running = torch.zeros(k, dtype=torch.float64)
        for step in range(steps):
            idx = perm[:, step * batch_size : (step + 1) * batch_size]
            losses = _per_model_ce(model.logits_cb(data.x_train[idx]), data.y_train[idx])
            with torch.no_grad():
                finite = torch.isfinite(losses)
                newly = alive & ~finite
                if newly.any():
                    for i in torch.nonzero(newly).flatten().tolist():
                        diverged[i] = epoch
                        log.warning(
                            "model %d (seed %d) diverged at epoch %d", i, model.seeds[i], epoch
                        )
                    alive &= finite
                running += losses.detach().double()
            opt.zero_grad(set_to_none=True)
            torch.where(alive, losses, torch.zeros_like(losses)).sum().backward()
            opt.step()
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        row = {
            "train_loss": (running / steps).numpy(),
            "test_loss": test_loss,
            "test_acc": test_acc,
        }
        for m, v in row.items():
            hist[m][epoch - 1] = v
        if on_epoch is not None:
            on_epoch(epoch, row)
        if checkpoint is not None:
            ckpt.save(
                checkpoint,
                tag,
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "orders": [g.get_state() for g in orders],
                    "alive": alive,
                    "diverged": torch.as_tensor(diverged),
                    "hist": {m: torch.as_tensor(v) for m, v in hist.items()},
                },
            )
        # one line per epoch, so a user tailing the log sees where a job is
        log.info(
            "epoch %d/%d  train_loss %.4f  test_acc %.2f%%  (%.1fs, %d/%d alive)",
            epoch,
            epochs,
            float(np.nanmean(row["train_loss"])),
            float(np.nanmean(row["test_acc"])),
            time.perf_counter() - t0,
            int(alive.sum()),
            k,
        )
    hist["diverged_epoch"] = diverged
    return hist


# ----------------------------------------------------------------------------------------------
# Spectral-bias probe (Rahaman et al. 2019, §3.1): fit a sum of sines, watch each frequency.


def sines_target(
    seed: int, freqs: np.ndarray, amps: np.ndarray, n_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """λ(z) = Σ A_i sin(2π k_i z + φ_i) on n equally spaced z in [0, 1) with φ_i ~ U(0, 2π).

    The grid leaves out z = 1 so that the DFT bin k is exactly frequency k.
    """
    rng = np.random.default_rng(seeding.derive_seed(seed, "phases"))
    phases = rng.uniform(0, 2 * np.pi, size=len(freqs))
    z = np.arange(n_points) / n_points
    y = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * z[None, :] + phases[:, None])).sum(0)
    return z, y


def spectrum_ratio(outputs: np.ndarray, freqs: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """|single-sided DFT of each output at k_i| / A_i; outputs (K, N) → (K, len(freqs))."""
    n = outputs.shape[-1]
    spec = np.abs(np.fft.rfft(outputs, axis=-1)) * 2 / n
    return spec[:, freqs.astype(int)] / amps[None, :]


def train_spectral(
    model: Stacked,
    freqs: np.ndarray,
    amps: np.ndarray,
    n_points: int,
    steps: int,
    lr: float,
    eval_every: int,
) -> dict[str, np.ndarray]:
    """Full-batch Adam on MSE; returns `step` (E,), `ratio` (E, K, F), `mse` (E, K)."""
    k = model.n_models
    targets = np.stack([sines_target(s, freqs, amps, n_points)[1] for s in model.seeds])
    z = torch.arange(n_points, dtype=torch.float32) / n_points
    x = z.view(1, -1, 1).expand(k, -1, -1).contiguous()
    y = torch.as_tensor(targets, dtype=torch.float32).unsqueeze(-1)
    opt = make_optimizer(model.parameters(), lr)
    rec_steps, ratios, mses = [], [], []
    t0 = time.perf_counter()
    for step in range(steps + 1):
        out = model(x)
        per_model = ((out - y) ** 2).mean(dim=(1, 2))
        if step % eval_every == 0 or step == steps:
            o = out.detach().squeeze(-1).double().numpy()
            rec_steps.append(step)
            ratios.append(spectrum_ratio(o, freqs, amps))
            mses.append(per_model.detach().double().numpy())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        torch.nan_to_num(per_model, nan=0.0, posinf=0.0).sum().backward()
        opt.step()
        if step % max(1, steps // 10) == 0:
            log.info(
                "step %d/%d  mse %.4f  (%.1fs)",
                step,
                steps,
                float(per_model.detach().mean()),
                time.perf_counter() - t0,
            )
    return {"step": np.array(rec_steps), "ratio": np.stack(ratios), "mse": np.stack(mses)}
