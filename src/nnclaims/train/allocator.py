"""Keep glibc from handing activation buffers back to the OS between training steps.

A stack of 64 small MLPs allocates and frees tensors of a few MB every step. glibc serves blocks
over its mmap threshold with a fresh mmap and returns freed heap tops to the OS, so every step
page-faults its buffers in again (~300k minor faults per 3 epochs here). Raising both thresholds
once per process lets freed blocks be reused: about 7 % faster per model-epoch on this 2-core
CPU (benchmarks/bench_engine.py), with identical numbers. A no-op off glibc, and off when the
environment sets NNCLAIMS_KEEP_FREED_MEMORY=0 (a process keeps up to 1 GB of freed heap otherwise).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_MAX = 32 << 20  # glibc's upper limit for the mmap threshold on 64-bit
_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds (once); False where there is no glibc."""
    global _done
    if _done:
        return True
    if os.environ.get("NNCLAIMS_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # both or neither, mmap first: the trim threshold alone switches off glibc's adaptive mmap
    # threshold, and that made training 80 % slower here
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_MAX) == 1 and mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    _done = ok
    log.debug("glibc malloc thresholds raised: %s", ok)
    return ok
