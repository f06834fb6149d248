"""K independent models of one shape, stored stacked along a leading model axis.

Every layer's weight is (K, fan_in, fan_out), so a linear layer is one batched matmul
(`baddbmm`) for all K models, and a 1-D convolution is the same matmul over gathered input
windows (stacked_ops.conv1d; a window's features are ordered tap-major, index j·C_in + c).
Each model is initialised from its own seed with `torch.nn.Linear`/`Conv1d`'s default law
(U(−1/√fan_in, 1/√fan_in) for weights and biases, fan_in = C_in·kernel for a conv), times an
optional init scale, so model k of a stack equals a stack of one built with the same seed.
Optional masks (shaped like the weights) zero pruned connections in the forward pass, so pruned
weights get no gradient; pruning code treats conv and linear weights alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from nnclaims.core import seeding
from nnclaims.nets import stacked_ops
from nnclaims.nets.activations import Fixed, Mixed, layer_functions, stack_activation


def init_weights(
    torch_seed: int, sizes: Sequence[tuple[int, int]], scale: float = 1.0, dtype=torch.float32
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One model's (weight, bias) per layer, nn.Linear's default law, from its own generator."""
    g = torch.Generator().manual_seed(torch_seed)
    out = []
    for fan_in, fan_out in sizes:
        bound = scale / math.sqrt(fan_in)
        w = (torch.rand(fan_in, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(1, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        out.append((w.to(dtype), b.to(dtype)))
    return out


class Stacked(nn.Module):
    """Stacked weights (K, fan_in, fan_out) and biases (K, 1, fan_out), the head's transposed,
    with optional masks shaped like the weights."""

    def __init__(
        self,
        seeds: Sequence[int],
        sizes: Sequence[tuple[int, int]],
        init_scale: float = 1.0,
        init_seeds: Sequence[int] | None = None,
        dtype=torch.float32,
    ):
        """`seeds` are the run seeds (they also fix each model's batch order); the weights come from
        `init_seeds` (torch seeds) when given, else from each run seed's "init" stream."""
        super().__init__()
        self.seeds = list(seeds)
        self.sizes = list(sizes)
        if init_seeds is None:
            init_seeds = [seeding.derive_seed(s, "init") for s in self.seeds]
        if len(init_seeds) != len(self.seeds):
            raise ValueError("init_seeds must give one seed per model")
        per_model = [init_weights(s, self.sizes, init_scale, dtype) for s in init_seeds]
        n = len(self.sizes)
        # The head (last layer) is stored transposed, (K, fan_out, fan_in), and computes logits as
        # (K, classes, B): with 10 outputs that bmm is ~4× faster, and it is the layout
        # cross_entropy wants. The draws are the same; only the storage differs.
        ws = [torch.stack([m[i][0] for m in per_model]) for i in range(n)]
        bs = [torch.stack([m[i][1] for m in per_model]) for i in range(n)]
        ws[-1], bs[-1] = ws[-1].transpose(1, 2).contiguous(), bs[-1].transpose(1, 2).contiguous()
        self.weights = nn.ParameterList(nn.Parameter(w) for w in ws)
        self.biases = nn.ParameterList(nn.Parameter(b) for b in bs)
        self.masks: list[torch.Tensor] | None = None
        self.bias_masks: list[torch.Tensor] | None = None  # biases pruned too (kinds.lottery)

    @property
    def n_models(self) -> int:
        return len(self.seeds)

    def set_masks(self, masks: Sequence[torch.Tensor] | None) -> None:
        """Masks, one 0/1 tensor per layer shaped like its weight; masked weights are zeroed too."""
        if masks is None:
            self.masks = None
            return
        if len(masks) != len(self.weights):
            raise ValueError(f"Expected {len(self.weights)} masks, got {len(masks)}")
        w0 = self.weights[0]
        self.masks = [m.to(device=w0.device, dtype=w0.dtype) for m in masks]
        with torch.no_grad():
            for w, m in zip(self.weights, self.masks):
                if m.shape != w.shape:
                    raise ValueError(
                        f"Mask shape {tuple(m.shape)} != weight shape {tuple(w.shape)}"
                    )
                w.mul_(m)

    def set_bias_masks(self, masks: Sequence[torch.Tensor]) -> None:
        """Masks shaped like the biases; masked biases are zeroed and get no gradient."""
        b0 = self.biases[0]
        self.bias_masks = [m.to(device=b0.device, dtype=b0.dtype) for m in masks]
        with torch.no_grad():
            for b, m in zip(self.biases, self.bias_masks):
                b.mul_(m)

    def _w(self, i: int) -> torch.Tensor:
        return self.weights[i] if self.masks is None else self.weights[i] * self.masks[i]

    def _b(self, i: int) -> torch.Tensor:
        b = self.biases[i]
        return b if self.bias_masks is None else b * self.bias_masks[i]

    def linear(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Hidden layer i on x (K, N, fan_in) → (K, N, fan_out)."""
        return stacked_ops.baddbmm(self._b(i), x, self._w(i))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer on x (K, N, fan_in) → (K, fan_out, N)."""
        return stacked_ops.head(x, self._w(len(self.sizes) - 1), self._b(len(self.sizes) - 1))

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs in (K, classes, B) layout: what the training loop uses."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (K, B, classes)."""
        return self.logits_cb(x).transpose(1, 2)

    def n_weights(self) -> int:
        """Prunable weights per model (biases excluded)."""
        return sum(fi * fo for fi, fo in self.sizes)


def _layer_acts(activation, layer_acts, width: int, k: int, depth: int) -> nn.ModuleList:
    """Each hidden layer's activation: the run's spec everywhere, or a per-layer set (Schweickert
    2022) spread over the layers (a 2-function set on 4 layers: f1 f1 f2 f2)."""
    if layer_acts and not isinstance(layer_acts[0], str):  # one set per model (a set search)
        per_model = [layer_functions(("unused",), s, depth) for s in layer_acts]
        return nn.ModuleList(
            stack_activation([[names[i]] for names in per_model], width, k) for i in range(depth)
        )
    if layer_acts:
        names = layer_functions(("unused",), layer_acts, depth)
        return nn.ModuleList(stack_activation([n], width, k) for n in names)
    return nn.ModuleList(stack_activation(activation, width, k) for _ in range(depth))


def activate(act: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """act(z) for a fresh pre-activation z that nothing else reads (a layer's output): ReLU runs
    in place, which skips allocating and first-touching its output (~5 % of a width sweep's or a
    masked MLP's epoch on this CPU). The same kernel on the same values: the same bits (the
    archive and invariance tests), and autograd keeps the result its backward pass needs."""
    if isinstance(act, Fixed) and act.name == "relu":
        return torch.relu_(z)
    return act(z)


class StackedMLP(Stacked):
    """K MLPs: d_in → [width] × depth → d_out; one activation spec for all K, or one per model."""

    def __init__(
        self,
        seeds: Sequence[int],
        d_in: int,
        depth: int,
        width: int,
        d_out: int,
        activation: Sequence[str],
        init_scale: float = 1.0,
        init_seeds: Sequence[int] | None = None,
        dtype=torch.float32,
        layer_acts: Sequence[str] = (),
    ):
        dims = [d_in] + [width] * depth + [d_out]
        super().__init__(seeds, list(zip(dims[:-1], dims[1:])), init_scale, init_seeds, dtype)
        self.acts = _layer_acts(activation, layer_acts, width, len(self.seeds), depth)

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, d_in) → logits (K, d_out, B)."""
        for i, act in enumerate(self.acts):
            x = activate(act, self.linear(i, x))
        return self.head(x)


class StackedResMLP(StackedMLP):
    """K copies of the MNIST-1D repository's MLPBase (notebooks/models.py): every hidden layer
    after the first adds its output to its input, h = h + act(W h + b)."""

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        for i, act in enumerate(self.acts):
            h = activate(act, self.linear(i, x))
            x = h if i == 0 else x + h
        return self.head(x)


class StackedWidths(Stacked):
    """A width sweep: for each width, the K seeds' MLPs (d_in → [width] × depth → d_out) as one
    StackedMLP; model i·K + k is width i, seed k, initialised and batched exactly as the StackedMLP
    of that width alone. Every parameter keeps the seed axis (K) first, so StackedAdam steps it."""

    def __init__(
        self, seeds, d_in, depth, widths, d_out, activation, init_scale=1.0, dtype=torch.float32
    ):
        nn.Module.__init__(self)
        self.subs = nn.ModuleList(
            StackedMLP(seeds, d_in, depth, w, d_out, activation, init_scale, dtype=dtype)
            for w in widths
        )
        self.widths = list(widths)
        self.seeds = [s for _ in widths for s in seeds]
        self.sizes = [sz for m in self.subs for sz in m.sizes]
        self.masks = self.bias_masks = None

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """x: (W·K, B, d_in), width-major → logits (W·K, d_out, B)."""
        parts = x.unflatten(0, (len(self.subs), -1))
        return torch.cat([m.logits_cb(parts[i]) for i, m in enumerate(self.subs)])


def conv_out_len(length: int, kernel: int, stride: int, pad: int) -> int:
    return (length + 2 * pad - kernel) // stride + 1


class StackedCNN(Stacked):
    """K 1-D CNNs shaped like MNIST-1D's ConvBase: `depth` stride-2 convs of `width` channels
    (kernel 5 first, then 3; padding 1), each followed by the activation, then a linear head.

    Inside, activations are laid out (K, C, L, B), batch last: every conv window is a strided copy
    of whole rows of B values, both conv matmuls put the long L·B axis last (measured ~1.8×
    faster), and the head reads the features in Conv1d's flatten order as a free view. The head's
    weights are drawn as for a channels-last (L, C) flatten and stored permuted, so each model
    computes the same function it did when features were flattened channels-last."""

    def __init__(
        self,
        seeds: Sequence[int],
        d_in: int,
        depth: int,
        width: int,
        d_out: int,
        activation: Sequence[str],
        init_scale: float = 1.0,
        init_seeds: Sequence[int] | None = None,
        dtype=torch.float32,
        layer_acts: Sequence[str] = (),
    ):
        self.convs: list[tuple[int, int, int]] = []  # (kernel, stride, pad) per conv
        sizes, c_in, length = [], 1, d_in
        for i in range(depth):
            kernel = 5 if i == 0 else 3
            self.convs.append((kernel, 2, 1))
            sizes.append((c_in * kernel, width))
            c_in, length = width, conv_out_len(length, kernel, 2, 1)
        if length < 1:
            raise ValueError(f"Input length {d_in} is too short for {depth} stride-2 convolutions")
        sizes.append((width * length, d_out))
        super().__init__(seeds, sizes, init_scale, init_seeds, dtype)
        with torch.no_grad():  # head columns from (L, C) order to (C, L) order
            w = self.weights[-1]
            w.copy_(w.view(len(self.seeds), d_out, length, width).transpose(2, 3).reshape(w.shape))
        self.acts = _layer_acts(activation, layer_acts, width, len(self.seeds), depth)
        # only a within-layer mix tells channels apart: it needs them on the last axis
        self.mixes = [any(isinstance(m, Mixed) for m in a.modules()) for a in self.acts]

    def logits_cb(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, L) → logits (K, d_out, B)."""
        k, b = x.shape[:2]
        h = x.transpose(1, 2).unsqueeze(1)  # (K, C=1, L, B)
        for i, ((kernel, stride, pad), act) in enumerate(zip(self.convs, self.acts)):
            h = stacked_ops.conv1d(h, self._w(i), self.biases[i], kernel, stride, pad)
            if self.mixes[i]:  # a mix splits channels, which it finds on the last axis
                h = act(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            else:  # elementwise: in place in the layout, so h stays contiguous (permuted, the
                # next conv's windows, its backward and the head each copied it: ~1.4× slower)
                h = act(h)
        last = len(self.sizes) - 1
        return stacked_ops.baddbmm(self.biases[last], self._w(last), h.reshape(k, -1, b))


MODELS: dict[str, Callable[..., Stacked]] = {
    "mlp": StackedMLP,
    "mlp_res": StackedResMLP,
    "cnn": StackedCNN,
}


def get_model(name: str) -> Callable[..., Stacked]:
    if name not in MODELS:
        raise ValueError(f"No such model: {name!r}. Known: {', '.join(MODELS)}")
    return MODELS[name]
