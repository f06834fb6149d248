"""Experiment kinds: one module per kind of run, registered by name.

A kind owns how its runs train (`job(spec, job) -> (rows, masks or None)`, in its module), the
arm labels its rows carry (which hypotheses in config/claims.yaml can select), and whether it
reads a dataset. The runner (nnclaims.experiments) only looks a kind up: `get(spec.kind)`.

The table below is what the plan reads, without importing torch (Snakemake parses the workflow
on a submit host that may have only Snakemake, #16.5); a kind's module is imported when its
runs train. To add a kind: write its module with a `job` function, and add one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..hparams import RunSpec

if TYPE_CHECKING:
    import pandas as pd
    import torch


@dataclass
class Job:
    """What a kind's `train` gets besides its RunSpec: where to checkpoint, the device, the
    data, and what earlier runs left (an IMP trunk's masks; a stored lr or set search)."""

    device: torch.device
    ckpt_dir: Path | None = None
    arrays: Any = None  # data.Arrays of the run's dataset (None for kinds without data)
    trunk_masks: Path | None = None  # a control's IMP trunk: masks.npz
    mask_seeds: list[int] | None = None  # the seeds of that masks file, in its order
    searched: pd.DataFrame | None = None  # this setup's stored search rows (replicates)
    masks_out: Path | None = None  # where an IMP run writes its masks
    weights_out: Path | None = None  # where the run's final weights go (None: not kept)


@dataclass(frozen=True)
class Kind:
    name: str
    module: str  # nnclaims.kinds.<module> holds the function that trains
    function: str = "job"
    row_arms: Callable[[RunSpec], list[str]] = lambda spec: [spec.arm]
    needs_data: bool = True
    doc: str = ""

    @property
    def train(self) -> Callable[[RunSpec, Job], tuple[pd.DataFrame, dict | None]]:
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.function)


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


register(Kind("classify", "classify", doc="arms at their validated learning rates"))
register(
    Kind(
        "imp",
        "imp",
        "imp_job",
        row_arms=lambda spec: ["dense", "imp"],
        doc="iterative magnitude pruning: the dense round, then one ticket per round",
    )
)
register(Kind("control", "imp", "control_job", doc="sparse from scratch at each IMP level"))
register(
    Kind(
        "search",
        "search",
        row_arms=lambda spec: [f"best_set{i + 1}" for i in range(spec.keep)],
        doc="per-layer set search on the small network, best sets at both sizes",
    )
)
register(
    Kind("spectral", "spectral", needs_data=False, doc="spectral-bias probe on a sum of sines")
)
register(
    Kind(
        "actsearch",
        "actsearch",
        row_arms=lambda spec: [f"found{i + 1}" for i in range(spec.keep)],
        doc="activation search over core units (Ramachandran et al.), best functions as arms",
    )
)
register(
    Kind(
        "widths",
        "widths",
        # run arm "sweep" (a variant's "sweep_<tag>") → rows w<width> (w<width>_<tag>)
        row_arms=lambda spec: [f"w{w}{spec.arm[len('sweep') :]}" for w in spec.widths],
        doc="width sweep: one MLP per width and seed, how well each fits its training set",
    )
)
