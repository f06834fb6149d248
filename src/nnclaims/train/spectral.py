"""The spectral-bias probe's training (Rahaman et al. 2019, §3.1): K stacked networks fit a sum
of sines on [0, 1) by full-batch Adam on MSE; each evaluation step records, per model, the DFT
of its output at each target frequency relative to that frequency's amplitude."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from nnclaims.core import seeding
from nnclaims.nets.models import Stacked
from nnclaims.train import progress
from nnclaims.train.allocator import keep_freed_memory
from nnclaims.train.optim import make_optimizer

log = logging.getLogger(__name__)


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
    progress_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Full-batch Adam on MSE; returns `step` (E,), `ratio` (E, K, F), `mse` (E, K).
    `progress_dir`: where progress.json goes (nnclaims status)."""
    keep_freed_memory()
    k = model.n_models
    targets = np.stack([sines_target(s, freqs, amps, n_points)[1] for s in model.seeds])
    z = torch.arange(n_points, dtype=torch.float32) / n_points
    x = z.view(1, -1, 1).expand(k, -1, -1).contiguous()
    y = torch.as_tensor(targets, dtype=torch.float32).unsqueeze(-1)
    opt = make_optimizer(model.parameters(), lr)
    rec_steps, ratios, mses = [], [], []
    bar = progress.Progress(progress_dir, "spectral", steps, 1, k, unit="step")
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
        if (step + 1) % max(1, steps // 20) == 0:  # 20 lines a run
            log.info("%s", bar.update(step + 1, float(per_model.detach().mean())))
    return {"step": np.array(rec_steps), "ratio": np.stack(ratios), "mse": np.stack(mses)}
