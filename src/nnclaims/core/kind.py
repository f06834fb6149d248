"""Experiment kinds' base class and registry: what a kind declares (how its runs are planned,
what they cost, how the report describes them, which hyperparameters and random streams it owns,
how it trains) and the table of registered kinds.

A kind registers itself here when its module (nnclaims.kinds.<name>) is imported; importing
the package nnclaims.kinds imports and registers every kind. The layers below the kinds
(hyperparameters, seeding, the test-type registry) read this table and never import a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnclaims.core import hparams, seeding, testtype
from nnclaims.core.setup import Setup
from nnclaims.core.testtype import TestType

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from nnclaims.core.hparams import RunSpec


@dataclass
class Job:
    """What a kind's `job` gets besides its RunSpec: where to checkpoint, the device, the
    data, and what earlier runs left (an IMP trunk's masks; a stored lr or set search)."""

    device: torch.device
    ckpt_dir: Path | None = None
    arrays: Any = None  # data.Arrays of the run's dataset (None for kinds without data)
    trunk_masks: Path | None = None  # a control's IMP trunk: masks.npz
    mask_seeds: list[int] | None = None  # the seeds of that masks file, in its order
    searched: pd.DataFrame | None = None  # this setup's stored search rows (replicates)
    masks_out: Path | None = None  # where an IMP run writes its masks
    weights_out: Path | None = None  # where the run's final weights go (None: not kept)
    inputs: dict[str, Path] = field(default_factory=dict)  # other runs' files (Kind.inputs)


def lr_trials(spec: RunSpec) -> float:
    """Models an arm's lr search trains, counted on 1 − val_fraction of the data (0: no grid;
    a walk tries about 4 rates)."""
    if not spec.lr_grid:
        return 0.0
    rates = len(spec.lr_grid) if spec.lr_search == "grid" else min(len(spec.lr_grid), 4)
    return rates * min(spec.tune_seeds, len(spec.seeds)) * (1 - spec.val_fraction)


TUNE_SEED_BASE = 10_000  # run seeds lie below it (nnclaims.plan.checks): tuning never sees them


def tune_seeds(spec: RunSpec) -> list[int]:
    """The seeds of an lr or set search: TUNE_SEED_BASE + 0 .. tune_seeds − 1, disjoint from
    the seeds that evaluate (their inits, batch orders and data draws are others), and the same
    whatever seeds the run has, so that a run with more seeds reuses its search."""
    return [TUNE_SEED_BASE + i for i in range(spec.tune_seeds)]


def run_and_tune_seeds(spec: RunSpec) -> list[int]:
    """The data seeds of a run that trains its seeds and, with an lr grid, its tuning seeds:
    the default `data_seeds` of a kind."""
    return [*spec.seeds, *(tune_seeds(spec) if spec.lr_grid else [])]


def model_epochs(spec: RunSpec) -> float:
    """Model-epochs of a run that trains its seeds once (its lr search's trials included): the
    default cost of a kind."""
    return (len(spec.seeds) + lr_trials(spec)) * spec.epochs


@dataclass(frozen=True)
class Kind:
    """An experiment kind. Only `name` and `job` are required; every hook has a default that
    fits a kind whose runs train their seeds once on a dataset."""

    name: str
    # (spec, Job) → (tidy rows, masks or None); runs in the training job
    job: Callable[[RunSpec, Job], tuple[pd.DataFrame, dict | None]]
    doc: str = ""
    # its own hyperparameters and their defaults (RunSpec.params; read as spec.<name>)
    params: Mapping[str, Any] = field(default_factory=dict)
    # the plan: a claim whose config has key `block` gets runs from `plan(setup)`, once per
    # setup (the claim's and each variant's, per dataset), or once per claim (`per_claim`)
    block: str | None = None
    plan: Callable[[Setup], list[RunSpec]] | None = None
    per_claim: bool = False
    order: int = 50  # where its runs come in a claim's plan (and its setup sentence)
    check: Callable[[str, dict, dict], None] | None = None  # (claim id, claim, config): raises
    # what its runs' rows carry, and the network sizes they train
    row_arms: Callable[[RunSpec], list[str]] = lambda spec: [spec.arm]
    sizes: Callable[[RunSpec], tuple[int, ...]] = lambda spec: (spec.depth,)
    needs_data: bool = True  # False: it makes its own data (the spectral probe)
    # the data seeds whose draws its runs read (data_draw: seed): its run seeds and searches'
    data_seeds: Callable[[RunSpec], list[int]] = run_and_tune_seeds
    batched: bool = False  # runs differing only in their arm may train as one stack
    # the workflow: other runs' files it reads ({input name: (file, run id)}), files it writes
    # beside its metrics and hparams, and its jobs' priority
    inputs: Callable[[RunSpec], dict[str, tuple[str, str]]] = lambda spec: {}
    outputs: tuple[str, ...] = ()
    priority: int = 0
    # cost: model-epochs, and FLOPs from one example's (forward + backward) and the data size
    work: Callable[[RunSpec], float] = model_epochs
    flops: Callable[[RunSpec, float, int], float] | None = None
    # the report's setup sentence: its part for the claim's runs of this kind (their hparams);
    # `family`: its runs also appear under their model (architecture, optimizer, lr, epochs)
    describe: Callable[[list[dict]], str] | None = None
    family: bool = True
    lists_arms: bool = False  # the model part names its runs' arms
    seed_unit: str = "arm"  # "5 seeds per <unit>"
    # its own stack of models (default: kinds.common.stack's): (spec, d_in, d_out, seeds)
    build: Callable | None = None
    # tests of config/claims.yaml that read its runs' rows their own way (nnclaims.stats.testtypes)
    tests: tuple[TestType, ...] = ()
    # random streams of its own (nnclaims.core.seeding.derive_seed(seed, name))
    streams: tuple[str, ...] = ()
    # False: its seeds are not stored for reuse (a run whose models are not one per seed)
    replicable: bool = True
    # raise it when its rows gain a metric: seeds stored with fewer rows train again rather
    # than being reused without it (nnclaims.run.replicates)
    rows_version: int = 1

    def cost_flops(self, spec: RunSpec, per_example: float, n_train: int) -> float:
        if self.flops is not None:
            return self.flops(spec, per_example, n_train)
        return per_example * n_train * self.work(spec)

    @property
    def train(self) -> Callable[[RunSpec, Job], tuple[pd.DataFrame, dict | None]]:
        return self.job


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.name in KINDS:
        raise ValueError(f"experiment kind {kind.name!r} is registered twice")
    if (kind.block is None) != (kind.plan is None):
        raise ValueError(f"experiment kind {kind.name!r}: give both `block` and `plan`, or neither")
    hparams.register_params(kind.name, kind.params)
    seeding.register_streams(kind.streams)
    KINDS[kind.name] = kind
    for test in kind.tests:
        testtype.register(test)
    return kind


def get(name: str) -> Kind:
    if name not in KINDS:
        raise KeyError(
            f"No such experiment kind: {name!r}. Known: {', '.join(sorted(KINDS)) or 'none'}"
            " (importing nnclaims.kinds registers the built-in kinds)"
        )
    return KINDS[name]


def ordered() -> list[Kind]:
    """The kinds in plan order (then by name)."""
    return sorted(KINDS.values(), key=lambda k: (k.order, k.name))


def summary() -> str:
    """Every kind: what it trains, the claim-config block that asks for it, its own
    hyperparameters with their defaults, and its tests (`nnclaims kinds`)."""
    lines = []
    for k in ordered():
        lines.append(f"{k.name}: {k.doc}")
        lines.append(f"  config block: {k.block or '(planned by another kind)'}")
        if k.params:
            lines.append(
                "  own hyperparameters: " + ", ".join(f"{n}={v!r}" for n, v in k.params.items())
            )
        if k.tests:
            lines.append("  tests: " + ", ".join(t.name for t in k.tests))
    return "\n".join(lines)
