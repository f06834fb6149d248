"""airbench94 (Jordan 2024), the fastest well-known CIFAR-10 recipe, rebuilt for the fast image
profile: its network with a claim's activation in each conv group, and its training loop.

Source: github.com/KellerJordan/cifar10-airbench, package airbench 0.1.8 (MIT), files
lib_airbench94.py and utils.py: 94.01 % mean test accuracy over 1000 runs, about 3.3 s on an A100.
The package imports torchvision (which does not import beside this torch), so it is not a
dependency; tests/airbench_reference.py keeps its training loop nearly verbatim and
tests/test_airbench.py trains both from the same start and compares them.

The recipe: a frozen 2×2 whitening convolution set from the training images' patch covariance,
three conv groups (conv → maxpool → BN → act → conv → BN → act; 64, 256, 256 filters, identity
(dirac) init of each conv's first channels, BatchNorm with frozen scale), global max-pool, a
bias-free linear head scaled by 1/9; Nesterov SGD with decoupled lr and weight decay (per 1024
examples), BatchNorm biases at 64× the lr, label smoothing 0.2, a triangular lr schedule,
Lookahead-style weight averaging every 5 steps, the whitening bias trained for 3 epochs only;
flips alternated every epoch after one random flip per image, 2-pixel reflect-padded crops; test
logits averaged over mirror and two translations (TTA level 2).

Differences from the package, on purpose (the report's setup says them):
- the forward pass in bfloat16 autocast with float32 weights (`precision: bf16`); the package
  casts the net to float16 and keeps BatchNorm in float32;
- whole epochs (`epochs`, 10 in config/cifar_fast.yaml) where the package trains 9.9;
- each seed draws its flips, crops and batch order from its own generators (nnclaims.core.seeding);
- `depth` conv groups (the recipe: 3; a 4th has 256 filters), so that a network can be scaled;
- the K seeds of a run are separate modules (vision.ModuleStack), each trained an epoch at a
  time in turn; no checkpoints (a run is seconds on a GPU: a killed job trains again).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnclaims.core import seeding
from nnclaims.nets.airnet import AirNet  # noqa: F401 (airbench.AirNet: the recipe's network)
from nnclaims.train.engine import autocast as _autocast

# The recipe's constants (lib_airbench94.py `hyp`); lr, momentum, weight decay, batch size and
# epochs are the run's own settings (train.lr ... in the config: 11.5, 0.85, 0.0153, 1024, 10).
LABEL_SMOOTHING = 0.2
BIAS_SCALER = 64.0  # BatchNorm biases' lr multiplier (not their weight decay's)
WHITEN_BIAS_EPOCHS = 3  # the whitening bias trains for this many epochs, then is frozen
TRANSLATE = 2  # crop offsets of up to 2 pixels after reflect padding
TTA_LEVEL = 2  # 0: none, 1: mirror, 2: mirror + two translations
LOOKAHEAD_EVERY = 5  # steps between weight-averaging updates
WHITEN_IMAGES = 5000  # training images whose patches set the whitening layer
WHITEN_EPS = 5e-4


@torch.no_grad()
def whiten(layer: nn.Conv2d, images: torch.Tensor) -> None:
    """Set the whitening conv from the patch covariance of `images` (utils.init_whitening_conv):
    each eigenvector scaled by 1/√(eigenvalue + eps), and its negative."""
    c, (h, w) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).float()
    flat = patches.view(patches.shape[0], -1)
    cov = flat.T @ flat / flat.shape[0]
    evals, evecs = torch.linalg.eigh(cov, UPLO="U")
    evals = evals.flip(0).view(-1, 1, 1, 1)
    evecs = evecs.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = evecs / torch.sqrt(evals + WHITEN_EPS)
    layer.weight.data[:] = torch.cat((scaled, -scaled)).to(layer.weight.dtype)


def triangle(steps: int, start: float, end: float, peak: float) -> torch.Tensor:
    """Piecewise-linear lr multipliers for steps 0..steps: start → 1 at peak·steps → end."""
    xp = torch.tensor([0, int(peak * steps), steps])
    fp = torch.tensor([start, 1, end])
    x = torch.arange(1 + steps)
    m = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    b = fp[:-1] - (m * xp[:-1])
    idx = torch.clamp(torch.sum(torch.ge(x[:, None], xp[None, :]), 1) - 1, 0, len(m) - 1)
    return m[idx] * x + b[idx]


def crop(padded: torch.Tensor, shifts: torch.Tensor, size: int) -> torch.Tensor:
    """Each image's size × size window at its (dy, dx) offset from the centre of `padded`."""
    r = (padded.shape[-1] - size) // 2
    out = torch.empty(
        (len(padded), padded.shape[1], size, size), device=padded.device, dtype=padded.dtype
    )
    for sy in range(-r, r + 1):
        for sx in range(-r, r + 1):
            mask = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            out[mask] = padded[mask, :, r + sy : r + sy + size, r + sx : r + sx + size]
    return out


def tta_logits(net: nn.Module, x: torch.Tensor, level: int = TTA_LEVEL) -> torch.Tensor:
    """Logits averaged over the test-time augmentations (utils.infer)."""

    def mirror(inputs):
        return 0.5 * net(inputs) + 0.5 * net(inputs.flip(-1))

    if level == 0:
        return net(x)
    logits = mirror(x)
    if level == 1:
        return logits
    padded = F.pad(x, (1,) * 4, "reflect")
    h, w = x.shape[-2:]
    shifted = [padded[:, :, 0:h, 0:w], padded[:, :, 2 : h + 2, 2 : w + 2]]
    return 0.5 * logits + 0.5 * torch.stack([mirror(s) for s in shifted]).mean(0)


class _Lookahead:
    """Exponential average of the state every LOOKAHEAD_EVERY steps, copied back into the net."""

    def __init__(self, net: nn.Module):
        self.ema = {k: v.clone() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float) -> None:
        for ema, p in zip(self.ema.values(), net.state_dict().values()):
            if p.dtype in (torch.half, torch.float, torch.bfloat16, torch.double):
                ema.lerp_(p, 1 - decay)
                p.copy_(ema)


class _Member:
    """One seed's model, optimizer, schedule, weight average and random streams."""

    def __init__(self, net, seed, lr, momentum, weight_decay, batch_size, total_steps, n, dev):
        self.net, self.total, self.steps = net, total_steps, 0
        kilostep = 1024 * (1 + 1 / (1 - momentum))  # Nesterov's step size per gradient
        lr_ = lr / kilostep
        wd = weight_decay * batch_size / kilostep
        lr_b = lr_ * BIAS_SCALER
        norm = [p for k, p in net.named_parameters() if "norm" in k and p.requires_grad]
        other = [p for k, p in net.named_parameters() if "norm" not in k and p.requires_grad]
        self.opt = torch.optim.SGD(
            [
                dict(params=norm, lr=lr_b, weight_decay=wd / lr_b),
                dict(params=other, lr=lr_, weight_decay=wd / lr_),
            ],
            momentum=momentum,
            nesterov=True,
        )
        sched = triangle(total_steps, start=0.2, end=0.07, peak=0.23)
        # a 0-dim float32 multiplier, as in the package (a Python float rounds differently)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda i: sched[i])
        self.alpha = 0.95**5 * (torch.arange(total_steps + 1) / total_steps) ** 3
        self.lookahead = _Lookahead(net)
        self.aug = seeding.generator(seed, "augment")
        self.order = seeding.generator(seed, "order")
        # one random flip per image, once (the package's pre-flip before alternating)
        self.flip = (torch.rand(n, generator=self.aug) < 0.5).to(dev)


def _loss_fn():
    return nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING, reduction="none")


def _epoch(m: _Member, member, padded, y, epoch, size, batch_size, after_step, autocast) -> float:
    """One epoch of member m (the stack's model `member`); returns its mean training loss per
    example (label-smoothed)."""
    n = len(y)
    m.net.whiten.bias.requires_grad = epoch < WHITEN_BIAS_EPOCHS
    m.net.train()
    images = torch.where(m.flip.view(-1, 1, 1, 1), padded.flip(-1), padded)
    shifts = torch.randint(-TRANSLATE, TRANSLATE + 1, (n, 2), generator=m.aug).to(y.device)
    images = crop(images, shifts, size)
    if epoch % 2 == 1:  # every other epoch all images flipped together
        images = images.flip(-1)
    if images.is_cuda:  # the layout the model was put in (crop writes NCHW)
        images = images.contiguous(memory_format=torch.channels_last)
    order = torch.randperm(n, generator=m.order).to(y.device)
    loss_fn, seen = _loss_fn(), 0
    total = torch.zeros((), dtype=torch.float64, device=y.device)  # summed on the device: no sync
    for i in range(n // batch_size):
        idx = order[i * batch_size : (i + 1) * batch_size]
        with autocast():
            out = m.net(images[idx])
        loss = loss_fn(out.float(), y[idx]).sum()
        m.opt.zero_grad(set_to_none=True)
        loss.backward()
        m.opt.step()
        m.sched.step()
        if after_step is not None:
            after_step(member)
        m.steps += 1
        total += loss.detach().double()
        seen += len(idx)
        if m.steps % LOOKAHEAD_EVERY == 0:
            m.lookahead.update(m.net, decay=m.alpha[m.steps].item())
        if m.steps >= m.total:
            m.lookahead.update(m.net, decay=1.0)  # the averaged weights are the model
            break
    return total.item() / seen  # NaN or inf: the model diverged this epoch


@torch.no_grad()
def _score(net, x, y, autocast, chunk=2000) -> tuple[float, float]:
    """(cross-entropy, accuracy in %) of the TTA logits."""
    net.eval()
    loss = correct = 0.0
    for a in range(0, len(x), chunk):
        with autocast():
            logits = tta_logits(net, x[a : a + chunk]).float()
        loss += F.cross_entropy(logits, y[a : a + chunk], reduction="sum").item()
        correct += (logits.argmax(1) == y[a : a + chunk]).sum().item()
    return loss / len(x), 100 * correct / len(x)


def train(
    model,
    data,
    epochs: int,
    batch_size: int,
    lr: float | Sequence[float],
    momentum: float,
    weight_decay: float,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    on_epoch: Callable[[int, dict], None] | None = None,
    eval_every: int = 1,
) -> dict[str, np.ndarray]:
    """Train the K models of a vision.ModuleStack of AirNets with the recipe; returns the
    engine's history (train_loss: label-smoothed, per example; test_loss and test_acc of the TTA
    logits; val_loss with a validation part; diverged_epoch). The held-out sets are scored every
    `eval_every` epochs and at the last (rows of other epochs stay NaN), as in the engine."""
    dev = torch.device(device)
    model.to(dev)
    if getattr(model, "masks", None) is not None:
        model.set_masks(model.masks)
    k, (n, *shape) = model.n_models, data.x_train.shape
    steps_per_epoch = n // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the training set ({n})")
    lrs = [float(lr)] * k if isinstance(lr, (int, float)) else [float(v) for v in lr]
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    val = None if data.x_val is None else (data.x_val.to(dev), data.y_val.to(dev))
    if dev.type == "cuda":  # NHWC: the layout tensor cores read
        model.to(memory_format=torch.channels_last)
        x, x_test = (t.contiguous(memory_format=torch.channels_last) for t in (x, x_test))
    padded = F.pad(x, (TRANSLATE,) * 4, "reflect")
    members = []
    for s, net, lr_k in zip(model.seeds, model.members, lrs):
        total = steps_per_epoch * epochs
        members.append(_Member(net, s, lr_k, momentum, weight_decay, batch_size, total, n, dev))
        # after the weight average's copy of the initial state, as in the package: its first
        # averages pull the whitening weights a little towards their random init
        whiten(net.whiten, x[:WHITEN_IMAGES])
    metrics = ("train_loss", "test_loss", "test_acc") + (("val_loss",) if val else ())
    hist = {m: np.full((epochs, k), np.nan) for m in metrics}
    diverged = np.zeros(k, dtype=np.int64)
    after_step = getattr(model, "after_step", None)

    def autocast():
        return _autocast(dev, precision)

    for epoch in range(1, epochs + 1):
        for i, m in enumerate(members):
            if diverged[i]:
                continue
            loss = _epoch(m, i, padded, y, epoch - 1, shape[-1], batch_size, after_step, autocast)
            if not math.isfinite(loss):
                diverged[i] = epoch
                continue
            hist["train_loss"][epoch - 1, i] = loss
            if epoch % eval_every and epoch != epochs:
                continue
            hist["test_loss"][epoch - 1, i], hist["test_acc"][epoch - 1, i] = _score(
                m.net, x_test, y_test, autocast
            )
            if val is not None:
                hist["val_loss"][epoch - 1, i] = _score(m.net, *val, autocast)[0]
        if on_epoch is not None:
            on_epoch(epoch, {m: v[epoch - 1] for m, v in hist.items()})
    hist["diverged_epoch"] = diverged
    return hist
