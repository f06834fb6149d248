"""Hand-written backward passes for the two stacked layers where autograd's default is slow on CPU.

Both compute exactly what the plain formulation computes (the same matmuls on the same
operands); only the memory layout of the backward pass differs, so results agree with autograd's
to float rounding (tests check float64 gradients against autograd).

- head: logits are produced as (K, classes, B) (cross-entropy's layout, and a ~4× faster bmm with
  10 outputs). Autograd hands the input's gradient back transposed, non-contiguous, and the
  activation's backward on a strided tensor was ~35× slower than on a contiguous one (4.3 ms vs
  0.12 ms for 64×100×100 floats); here the gradient is computed contiguous directly.
- conv1d: activations are laid out (K, C, L, B), batch last. Windows are gathered tap by tap into
  one buffer (each tap one strided copy of whole rows of B values) for a single batched matmul
  whose long L·B axis is last (1.8× faster than the same product with it first); in backward each
  tap's gradient is added into one input-gradient buffer in place, where autograd's
  pad/slice/cat backward allocated a zero tensor per tap.
"""

from __future__ import annotations

import torch


def simd_vector(dtype: torch.dtype) -> int:
    """Elements in one SIMD vector of torch's CPU kernels (64 bytes where the capability is not
    known to be AVX2, to be safe): where a model's slice is a whole number of them, no element
    of it falls in a kernel's scalar tail, alone or in a stack."""
    vec_bytes = 32 if torch.backends.cpu.get_cpu_capability() == "AVX2" else 64
    return vec_bytes // torch.empty((), dtype=dtype).element_size()


def _two(*ts: torch.Tensor) -> list[torch.Tensor]:
    return [t.expand(2, *t.shape[1:]) for t in ts]


def baddbmm(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.baddbmm, but a stack of one model runs as a batch of two (the model twice, the
    copy dropped): torch sends a batch of one down another GEMM path, which rounds some small
    products (e.g. 7 × 300 × 21) differently from the batched one, so a model alone would not
    match itself in a stack. Autograd's backward then runs batched too."""
    if a.shape[0] != 1:
        return torch.baddbmm(c, a, b)
    return torch.baddbmm(*_two(c, a, b))[:1]


def bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.bmm with a stack of one run as a batch of two (see baddbmm)."""
    if a.shape[0] != 1:
        return torch.bmm(a, b)
    return torch.bmm(*_two(a, b))[:1]


class _Head(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        # x (K, B, H), w (K, C, H), b (K, C, 1) → logits (K, C, B)
        ctx.save_for_backward(x, w)
        return baddbmm(b, w, x.transpose(1, 2))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = bmm(g.transpose(1, 2), w) if ctx.needs_input_grad[0] else None  # (K, B, H)
        gw = bmm(g, x) if ctx.needs_input_grad[1] else None
        gb = g.sum(dim=2, keepdim=True) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def head(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Linear head of K models on x (K, B, H) → (K, classes, B); w (K, classes, H)."""
    return _Head.apply(x, w, b)


def _taps(length: int, l_out: int, kernel: int, stride: int, pad: int):
    """For each tap j: the output positions [i0, i1) whose input position i·stride + j − pad lies
    inside [0, length), and that first input position."""
    out = []
    for j in range(kernel):
        i0 = max(0, -((j - pad) // stride))  # ceil((pad − j) / stride)
        i1 = min(l_out, (length - 1 - j + pad) // stride + 1)
        out.append((j, i0, i1, i0 * stride + j - pad))
    return out


def windows(h: torch.Tensor, kernel: int, stride: int, pad: int) -> torch.Tensor:
    """Zero-padded conv windows of h (K, C, L, B) as matrix columns: (K, kernel·C, L_out·B),
    rows tap-major (j·C + c). Each tap is one strided copy of whole rows of B values."""
    k, c, length, b = h.shape
    l_out = (length + 2 * pad - kernel) // stride + 1
    win = h.new_empty(k, kernel, c, l_out, b)
    for j, i0, i1, s0 in _taps(length, l_out, kernel, stride, pad):
        if i0 > 0:
            win[:, j, :, :i0].zero_()
        if i1 < l_out:
            win[:, j, :, i1:].zero_()
        if i1 > i0:
            win[:, j, :, i0:i1] = h[:, :, s0 : s0 + stride * (i1 - i0 - 1) + 1 : stride]
    return win.view(k, kernel * c, l_out * b)


class _Conv1d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, w, b, kernel: int, stride: int, pad: int):
        k, c, length, bsz = h.shape
        win = windows(h, kernel, stride, pad)
        l_out = win.shape[2] // bsz
        ctx.save_for_backward(win, w)
        ctx.geom = (k, c, length, bsz, l_out, kernel, stride, pad)
        # (C_out, kernel·C) @ (kernel·C, L_out·B): the long axis last, ~1.8× faster here than
        # the same product as (L_out·B, kernel·C) @ (kernel·C, C_out)
        out = baddbmm(b.transpose(1, 2), w.transpose(1, 2), win)
        return out.view(k, -1, l_out, bsz)

    @staticmethod
    def backward(ctx, g):
        win, w = ctx.saved_tensors
        k, c, length, bsz, l_out, kernel, stride, pad = ctx.geom
        # one layout whatever the upstream layout: a strided g made reshape a view whose bias
        # sum and GEMM ran in another order, so a model's rounding depended on its stack-mates
        g2 = g.contiguous().view(k, g.shape[1], l_out * bsz)
        gw = bmm(g2, win.transpose(1, 2)).transpose(1, 2)  # (K, kernel·C, C_out)
        gb = g2.sum(dim=2, keepdim=True).transpose(1, 2)
        gh = None
        if ctx.needs_input_grad[0]:
            gwin = bmm(w, g2).view(k, kernel, c, l_out, bsz)
            gh = g.new_zeros(k, c, length, bsz)
            for j, i0, i1, s0 in _taps(length, l_out, kernel, stride, pad):
                if i1 > i0:
                    gh[:, :, s0 : s0 + stride * (i1 - i0 - 1) + 1 : stride] += gwin[:, j, :, i0:i1]
        return gh, gw, gb, None, None, None


def conv1d(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor, kernel: int, stride: int, pad: int):
    """K stacked 1-D convolutions with the batch axis last: h (K, C_in, L, B), w (K, kernel·C_in,
    C_out) with tap-major rows, b (K, 1, C_out) → (K, C_out, L_out, B)."""
    return _Conv1d.apply(h, w, b, kernel, stride, pad)
