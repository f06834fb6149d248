"""The source papers' image architectures, as K ordinary modules behind the stack interface.

Large convnets on a GPU are bound by arithmetic, not by Python overhead, so the K models of a run
are separate `nn.Module`s run one after another (`ModuleStack`); they still share the engine's
loop, per-model batch order, checkpointing and pruning. Masks are applied by zeroing pruned
weights before training and again after every optimizer step, which leaves the surviving weights'
updates exactly as with masking in the forward pass (a zeroed weight contributes nothing).

- `vgg_he`: VGG-HE-N (Schweickert 2022, cnn.py): N blocks of [conv3×3 → act → BN → conv3×3 →
  act → BN → maxpool → dropout], 32·2^(b−1) filters, He-uniform init; head dense → act → linear.
- `resnet`: pre-activation ResNet (He et al. 2016) for CIFAR: depth 6n+2 with basic blocks
  (20, 56, 110), or 9n+2 with bottleneck blocks (164), widths 16/32/64.
- `conv`: Conv-2/4/6 (Frankle & Carbin 2019): pairs of conv3×3 (64, 128, 256) with max-pooling,
  then dense 256-256-classes; Glorot-normal init.
- `lenet`: LeNet-300-100 (Frankle & Carbin 2019): dense 300-100-classes on flattened pixels.
- `airbench`: airbench94's network (Jordan 2024) with `depth` conv groups (the recipe: 3), trained
  by its own recipe (`train.recipe: airbench`, nnclaims.train.airbench).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from nnclaims.core.catalog import IMAGE_MODELS, check_depth, layer_slots  # noqa: F401 (re-exported)
from nnclaims.nets import airnet
from nnclaims.nets.activations import ACTIVATIONS, TRAINABLE, _single, known, layer_functions


def _act(name: str) -> nn.Module:
    if name not in ACTIVATIONS and name not in TRAINABLE:
        raise ValueError(f"No such activation: {name!r}. Known: {', '.join(known())}")
    return _single(name, 1)


class VGGHE(nn.Module):
    def __init__(
        self,
        blocks: int,
        acts: Sequence[str],
        in_ch: int,
        n_classes: int,
        hw: int,
        head: int = 128,
        dropout: float = 0.2,
    ):
        """acts: one function per block plus one for the dense layer (blocks + 1 names)."""
        super().__init__()
        layers: list[nn.Module] = []
        c = in_ch
        for b in range(blocks):
            f = 32 * 2**b
            layers += [
                nn.Conv2d(c, f, 3, padding=1),
                _act(acts[b]),
                nn.BatchNorm2d(f),
                nn.Conv2d(f, f, 3, padding=1),
                _act(acts[b]),
                nn.BatchNorm2d(f),
                nn.MaxPool2d(2),
                nn.Dropout(dropout),
            ]
            c, hw = f, hw // 2
        if hw < 1:
            raise ValueError(f"{blocks} VGG blocks halve a {hw}-pixel image below one pixel")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * hw * hw, head),
            _act(acts[blocks]),
            nn.Linear(head, n_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")  # He-uniform: √(6/fan_in)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.features(x))


class _PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, act: str, bottleneck: bool):
        super().__init__()
        mid = c_out // 4 if bottleneck else c_out
        if bottleneck:
            convs = [
                nn.Conv2d(c_in, mid, 1, bias=False),
                nn.Conv2d(mid, mid, 3, stride, 1, bias=False),
                nn.Conv2d(mid, c_out, 1, bias=False),
            ]
            norms = [c_in, mid, mid]
        else:
            convs = [
                nn.Conv2d(c_in, mid, 3, stride, 1, bias=False),
                nn.Conv2d(mid, c_out, 3, 1, 1, bias=False),
            ]
            norms = [c_in, mid]
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in norms)
        self.acts = nn.ModuleList(_act(act) for _ in norms)
        self.convs = nn.ModuleList(convs)
        self.short = (
            nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None
        )

    def forward(self, x):
        out = x
        for i, (bn, act, conv) in enumerate(zip(self.bns, self.acts, self.convs)):
            out = act(bn(out))
            if i == 0:
                shortcut = x if self.short is None else self.short(out)
            out = conv(out)
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(self, depth: int, acts: Sequence[str], in_ch: int, n_classes: int):
        """acts: one function per stage (3) plus one for the final pre-activation."""
        super().__init__()
        check_depth("resnet", depth)
        if depth % 9 == 2 and depth >= 164:
            n, bottleneck, widths = (depth - 2) // 9, True, (64, 128, 256)
        else:
            n, bottleneck, widths = (depth - 2) // 6, False, (16, 32, 64)
        self.stem = nn.Conv2d(in_ch, 16, 3, padding=1, bias=False)
        blocks, c = [], 16
        for s, w in enumerate(widths):
            for i in range(n):
                stride = 2 if (i == 0 and s > 0) else 1
                blocks.append(_PreActBlock(c, w, stride, acts[s], bottleneck))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(
            nn.BatchNorm2d(c), _act(acts[3]), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.fc = nn.Linear(c, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.fc(self.final(self.blocks(self.stem(x))))


class ConvN(nn.Module):
    def __init__(self, convs: int, acts: Sequence[str], in_ch: int, n_classes: int, hw: int):
        """acts: one function per conv pair plus one for the dense layers."""
        super().__init__()
        check_depth("conv", convs)
        layers: list[nn.Module] = []
        c = in_ch
        for p in range(convs // 2):
            f = 64 * 2**p
            layers += [
                nn.Conv2d(c, f, 3, padding=1),
                _act(acts[p]),
                nn.Conv2d(f, f, 3, padding=1),
                _act(acts[p]),
                nn.MaxPool2d(2),
            ]
            c, hw = f, hw // 2
        self.features = nn.Sequential(*layers)
        a = acts[convs // 2]
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * hw * hw, 256),
            _act(a),
            nn.Linear(256, 256),
            _act(a),
            nn.Linear(256, n_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.features(x))


class LeNet300100(nn.Module):
    def __init__(self, acts: Sequence[str], d_in: int, n_classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(d_in, 300),
            _act(acts[0]),
            nn.Linear(300, 100),
            _act(acts[1]),
            nn.Linear(100, n_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


def build(name: str, depth: int, acts_spec, layer_acts, shape: tuple[int, ...], n_classes: int):
    """One model: `shape` is one example's (C, H, W)."""
    c, h = shape[0], shape[-1]
    fs = layer_functions(acts_spec, layer_acts, layer_slots(name, depth))
    if name == "vgg_he":
        return VGGHE(depth, fs, c, n_classes, h)
    if name == "resnet":
        return PreActResNet(depth, fs, c, n_classes)
    if name == "conv":
        return ConvN(depth, fs, c, n_classes, h)
    if name == "lenet":
        return LeNet300100(fs, math.prod(shape), n_classes)
    if name == "airbench":
        return airnet.AirNet(depth, fs, c, n_classes, _act)
    raise ValueError(f"No such image model: {name!r}. Known: {', '.join(IMAGE_MODELS)}")


class ImageStack:
    """What the image stacks (ModuleStack, vmapstack.VmapStack) share. `set_masks` keeps the
    masks on the weights' device and applies them (`after_step`); `compile_forward(mode)` makes
    later forward passes run torch.compile's version of the stack's `_logits_cb`
    (`train.compile`: default, reduce-overhead or max-autotune)."""

    _compiled = None

    def set_masks(self, masks: Sequence[torch.Tensor] | None) -> None:
        if masks is None:
            self.masks = None
            return
        if len(masks) != len(self.prunable):
            raise ValueError(f"Expected {len(self.prunable)} masks, got {len(masks)}")
        dev = next(self.parameters()).device
        self.masks = [m.to(dev) for m in masks]
        self.after_step()

    def compile_forward(self, mode: str = "default") -> None:
        if self._compiled is None:
            mode = None if mode == "default" else mode  # torch's name for its default
            self._compiled = torch.compile(self._logits_cb, mode=mode)

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, C, H, W) → (K, classes, B)."""
        return (self._compiled or self._logits_cb)(x)


class ModuleStack(ImageStack, nn.Module):
    """K separately built models with the stack interface of models.Stacked."""

    def __init__(
        self, seeds: Sequence[int], init_seeds: Sequence[int], make: Callable[[], nn.Module]
    ):
        super().__init__()
        self.seeds = list(seeds)
        members = []
        for s in init_seeds:
            with torch.random.fork_rng(devices=[]):  # each model's init from its own seed
                torch.manual_seed(s)
                members.append(make())
        self.members = nn.ModuleList(members)
        # prunable: conv and linear weights (biases and BN excluded, as in the paper), trained
        # ones only (airbench's whitening conv is set from the data and frozen)
        self.prunable = [
            n
            for n, p in self.members[0].named_parameters()
            if n.endswith("weight") and p.dim() > 1 and p.requires_grad
        ]
        self.masks: list[torch.Tensor] | None = None

    @property
    def n_models(self) -> int:
        return len(self.members)

    def _params(self, name: str) -> list[nn.Parameter]:
        return [m.get_parameter(name) for m in self.members]

    @property
    def weights(self) -> list[torch.Tensor]:
        """Prunable weights stacked along the model axis (copies, for magnitude ranking)."""
        return [torch.stack([p.detach() for p in self._params(n)]) for n in self.prunable]

    @torch.no_grad()
    def after_step(self, member: int | None = None) -> None:
        """Re-zero pruned weights (the optimizer's momentum may have moved them): every model's,
        or one `member`'s (a recipe that steps the models in turn)."""
        if self.masks is None:
            return
        for name, mask in zip(self.prunable, self.masks):
            for k, p in enumerate(self._params(name)):
                if member is None or k == member:
                    p.mul_(mask[k].to(p.dtype))

    def _logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x[k]) for k, m in enumerate(self.members)]).transpose(1, 2)

    def forward(self, x):
        return self.logits_cb(x).transpose(1, 2)

    def n_weights(self) -> int:
        return sum(self.members[0].get_parameter(n).numel() for n in self.prunable)
