"""nnclaims: test popular claims about neural networks end to end, from data to a PDF report."""

import os

# MKL's strict reproducibility mode, read at its first call: without it MKL picks GEMM kernels
# by the operands' memory alignment, so a model's matmuls rounded differently at different
# places in a stack (tests/test_invariance.py). Set before torch runs any MKL routine.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
