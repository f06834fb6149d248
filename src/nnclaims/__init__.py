"""nnclaims: test popular claims about neural networks end to end, from data to a PDF report."""

import os

# One instruction set for every CPU kernel library, so that a run's numbers are the same bytes
# on any x86-64 machine with AVX2 (every one of the last decade), AVX-512 or not: ATen's
# vectorised kernels (exp, sigmoid, sums), oneDNN's convolutions and MKL's GEMM each round
# differently under AVX-512, and the seed archive could not be reproduced there. MKL's STRICT
# mode also stops it from picking GEMM kernels by the operands' memory alignment, which rounded a
# model's matmuls differently at different places in a stack (tests/test_invariance.py). Each is
# read at its library's first call: nnclaims is imported before torch computes anything.
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

__version__ = "0.1.0"
