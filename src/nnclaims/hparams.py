"""Typed, frozen hyperparameters of one run, and the run's content-addressed id.

A run id is `<kind>_<hash>`, the hash over the fields that differ from their defaults (sorted,
canonical JSON), as in open_lth: adding a field with a neutral default keeps old ids valid.
Runs carry no claim: a relu MLP shared by several claims is trained once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

KINDS = ("classify", "imp", "control", "spectral", "search", "actsearch", "widths")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class RunSpec:
    kind: str  # classify | imp | control | spectral | search | actsearch | widths
    arm: str  # label in tables and figures
    activation: tuple[str, ...]  # one function, or several mixed within each layer
    dataset: str = "mnist1d"  # embedded default: generated, no download
    model: str = "mlp"
    depth: int = 2  # hidden layers; MNIST-1D's MLP baseline has 2
    width: int = 100  # units per hidden layer (MNIST-1D baseline: 100)
    epochs: int = 60  # classification epochs; spectral: full-batch steps
    batch_size: int = 100  # examples per step (MNIST-1D paper: 100)
    lr: float = 1e-2  # Adam; 1e-2 reached the paper's MLP baseline here
    init_scale: float = 1.0  # multiplies nn.Linear's default init bound
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # run seeds; each is one model of the stack
    prune_rounds: int = 0  # imp: rounds after the dense one
    prune_fraction: float = 0.2  # imp: of remaining weights per round (paper: 20 %)
    conv_prune_fraction: float = 0.0  # imp: rate for conv layers (paper: 10-15 %); 0 = as above
    rewind_epoch: int = 0  # imp: reset survivors to the weights after this epoch; 0 = θ0 (paper)
    control: str = ""  # control: reinit (trunk's masks, new init) | random
    trunk: str = ""  # control: run id of the IMP run it branches from
    freqs: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)  # spectral: k_i (Rahaman)
    amplitudes: tuple[float, ...] = ()  # spectral: A_i; empty means all 1
    n_points: int = 200  # spectral: grid points on [0, 1) (Rahaman: 200)
    eval_every: int = 50  # spectral: steps between DFTs of the output
    layer_acts: tuple[str, ...] = ()  # per-layer set (thesis): spread evenly over the layers
    optimizer: str = "adam"  # adam | sgd (VGG-HE: SGD with momentum 0.9)
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0  # L2 coefficient (sgd: torch's weight_decay)
    augment: bool = False  # random crop (4-pixel padding) + horizontal flip, per model and batch
    lr_grid: tuple[float, ...] = ()  # classify: pick lr from these on a validation split
    lr_search: str = "grid"  # classify with lr_grid: grid (every rate) | walk (from lr outward)
    tune_seeds: int = 3  # classify with lr_grid: seeds per candidate lr
    shuffle: bool = True  # a new batch order each epoch; False: the data's order (MNIST-1D repo)
    val_fraction: float = 0.2  # classify with lr_grid, search: share of the training set held out
    early_stop_val: bool = False  # hold out val_fraction, record its loss per epoch (IMP, controls)
    pool: tuple[str, ...] = ()  # search: functions per-layer sets are drawn from
    candidates: int = 0  # search: random per-layer sets (actsearch: functions) tried
    keep: int = 0  # search: best sets moved to the large network (actsearch: best functions)
    large_depth: int = 0  # search: the large network's hidden layers
    search_epochs: int = 0  # actsearch: epochs each sampled function trains before ranking
    widths: tuple[int, ...] = ()  # widths: the hidden widths of the sweep, one model per seed each
    label_noise: float = 0.0  # share of training labels replaced by a uniform draw (data.noisy)

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        if self.kind not in KINDS:
            raise ValueError(f"No such run kind: {self.kind!r}. Known: {', '.join(KINDS)}")
        if self.lr_search not in ("grid", "walk"):
            raise ValueError(f"No such lr search: {self.lr_search!r}. Known: grid, walk")
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise {self.label_noise} is not a share in [0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"No such optimizer: {self.optimizer!r}. Known: {', '.join(OPTIMIZERS)}"
            )

    def non_defaults(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
            if default is dataclasses.MISSING or v != default:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @property
    def run_id(self) -> str:
        canon = json.dumps(self.non_defaults(), sort_keys=True, separators=(",", ":"))
        return f"{self.kind}_{hashlib.sha256(canon.encode()).hexdigest()[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"Unknown run hyperparameter(s): {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}"
            )
        return cls(**d)


BATCH_FREE = ("arm", "activation")  # fields in which the runs of one batch may differ


def batch_key(spec: RunSpec) -> str:
    """Runs with the same key can train in one stack (same data, shape and schedule)."""
    d = {k: v for k, v in spec.to_dict().items() if k not in BATCH_FREE}
    return json.dumps(d, sort_keys=True)


def batch_id(run_ids: list[str]) -> str:
    canon = ",".join(sorted(run_ids))
    return f"batch_{hashlib.sha256(canon.encode()).hexdigest()[:12]}"
