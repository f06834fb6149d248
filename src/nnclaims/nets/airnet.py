"""airbench94's network (Jordan 2024; nnclaims.train.airbench trains it): a frozen 2×2
whitening convolution, `groups` conv groups (conv → maxpool → BN → act → conv → BN → act; 64,
256, 256 filters, the first channels of each conv initialised as identity, BatchNorm with frozen
scale), a global max-pool and a bias-free linear head scaled by 1/9."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from nnclaims.core.catalog import check_depth

BN_MOMENTUM = 0.6  # the package's convention: torch's momentum is 1 − 0.6
SCALING = 1 / 9  # logits' scale
WIDTHS = (64, 256, 256, 256)  # filters per conv group; the recipe has the first 3
WHITEN_KERNEL = 2


class _BatchNorm(nn.BatchNorm2d):
    def __init__(self, channels: int):
        super().__init__(channels, eps=1e-12, momentum=1 - BN_MOMENTUM)
        self.weight.requires_grad = False  # scale fixed at 1: only the bias trains


class _Conv(nn.Conv2d):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, padding="same", bias=False):
        super().__init__(c_in, c_out, kernel, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        nn.init.dirac_(w[: w.size(1)])  # the first c_in filters pass their input through


class _Group(nn.Module):
    def __init__(self, c_in: int, c_out: int, act: Callable[[], nn.Module]):
        super().__init__()
        self.conv1 = _Conv(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = _BatchNorm(c_out)
        self.act1 = act()
        self.conv2 = _Conv(c_out, c_out)
        self.norm2 = _BatchNorm(c_out)
        self.act2 = act()

    def forward(self, x):
        x = self.act1(self.norm1(self.pool(self.conv1(x))))
        return self.act2(self.norm2(self.conv2(x)))


class AirNet(nn.Module):
    """airbench94's network with `groups` conv groups; acts: one function name per group (the
    whitening layer's activation is the first group's)."""

    def __init__(
        self,
        groups: int,
        acts: Sequence[str],
        in_ch: int,
        n_classes: int,
        make_act: Callable[[str], nn.Module],
    ):
        super().__init__()
        check_depth("airbench", groups)
        width = 2 * in_ch * WHITEN_KERNEL**2
        self.whiten = _Conv(in_ch, width, WHITEN_KERNEL, padding=0, bias=True)
        self.whiten.weight.requires_grad = False  # set from the data, never trained
        self.whiten_act = make_act(acts[0])
        layers, c = [], width
        for g in range(groups):
            layers.append(_Group(c, WIDTHS[g], lambda a=acts[g]: make_act(a)))
            c = WIDTHS[g]
        self.groups = nn.Sequential(*layers)
        # the package's MaxPool2d(3) on the 3×3 map of 32-pixel images: a global max-pool
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(c, n_classes, bias=False)

    def forward(self, x):
        x = self.groups(self.whiten_act(self.whiten(x)))
        return self.head(self.pool(x).flatten(1)) * SCALING
