"""Experiment kinds: one module per kind of run, registered by name.

A kind owns how its runs train (`train(spec, job) -> (rows, masks or None)`), the arm labels its
rows carry (which hypotheses in config/claims.yaml can select), and whether it reads a dataset.
The runner (nnclaims.experiments) only looks a kind up: `get(spec.kind)`. To add a kind, write a
module here that calls `register(Kind(...))` and import it at the bottom of this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..hparams import RunSpec


@dataclass
class Job:
    """What a kind's `train` gets besides its RunSpec: where to checkpoint, the device, the
    data, and what earlier runs left (an IMP trunk's masks; a stored lr or set search)."""

    device: torch.device
    ckpt_dir: Path | None = None
    arrays: Any = None  # engine.Arrays of the run's dataset (None for kinds without data)
    trunk_masks: Path | None = None  # a control's IMP trunk: masks.npz
    mask_seeds: list[int] | None = None  # the seeds of that masks file, in its order
    searched: pd.DataFrame | None = None  # this setup's stored search rows (replicates)
    masks_out: Path | None = None  # where an IMP run writes its masks


@dataclass(frozen=True)
class Kind:
    name: str
    train: Callable[[RunSpec, Job], tuple[pd.DataFrame, dict | None]]
    row_arms: Callable[[RunSpec], list[str]] = lambda spec: [spec.arm]
    needs_data: bool = True
    doc: str = ""


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.name in KINDS:
        raise ValueError(f"experiment kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    if name not in KINDS:
        raise KeyError(f"No such experiment kind: {name!r}. Known: {', '.join(sorted(KINDS))}")
    return KINDS[name]


# the kinds (each registers itself on import)
from . import classify, imp, search, spectral  # noqa: E402, F401
