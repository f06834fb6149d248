"""Checkpoints that survive a kill at any moment: written to a temporary name, then renamed.

Loaded with `torch.load(weights_only=True)`: only tensors and plain containers, never pickled
objects. A checkpoint carries a `tag`; one with another tag (from an earlier IMP round, say) is
ignored, so a stale file can never be resumed into the wrong computation.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from nnclaims.core.files import atomic_path

log = logging.getLogger(__name__)


def save(path: str | os.PathLike, tag: str, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"tag": tag, **state}, tmp)


def load(path: str | os.PathLike | None, tag: str) -> dict[str, Any] | None:
    if path is None or not Path(path).exists():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # a truncated or foreign file: start over rather than fail
        log.warning("ignoring unreadable checkpoint %s (%s)", path, e)
        return None
    if state.get("tag") != tag:
        return None
    return state


def rng_states() -> dict[str, Any]:
    """Every global generator a run draws from (dropout: the CPU one, or CUDA's on a GPU)."""
    states: dict[str, Any] = {"rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda_rng"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(state: dict[str, Any]) -> None:
    if "rng" in state:
        torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def clear(path: str | os.PathLike | None) -> None:
    if path is not None and Path(path).exists():
        Path(path).unlink()
