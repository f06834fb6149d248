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

from nnclaims.core.catalog import DRAWABLE, IMAGE_MODELS

DATA_DRAWS = ("fixed", "seed")
OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("fp32", "bf16")
RECIPES = ("plain", "airbench")
STACKINGS = ("loop", "vmap")
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")  # torch.compile's modes


@dataclass(frozen=True, init=False)
class RunSpec:
    """The hyperparameters every run has, by concern (data, model, training, choosing on a
    validation split), and `params`: those its kind owns (nnclaims.kinds: pruning, a search, the
    spectral probe, a width sweep), read as attributes like the others (`spec.widths`). A kind's
    own hyperparameter at its default is not stored."""

    kind: str  # an experiment kind of nnclaims.kinds (its module trains the run)
    arm: str  # label in tables and figures
    activation: tuple[str, ...]  # one function, or several mixed within each layer
    # data
    dataset: str = "mnist1d"  # embedded default: generated, no download
    label_noise: float = 0.0  # share of training labels replaced by a uniform draw (data.noisy)
    # fixed: every seed trains on the dataset file's one draw; seed: each data seed on its own
    # draw (data.DRAWS), its own validation split and label noise (the plan's default where the
    # dataset has draws)
    data_draw: str = "fixed"
    # model
    model: str = "mlp"
    depth: int = 2  # hidden layers; MNIST-1D's MLP baseline has 2
    width: int = 100  # units per hidden layer (MNIST-1D baseline: 100)
    layer_acts: tuple[str, ...] = ()  # per-layer set (thesis): spread evenly over the layers
    init_scale: float = 1.0  # multiplies nn.Linear's default init bound
    # training
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # run seeds; each is one model of the stack
    epochs: int = 60  # classification epochs; spectral: full-batch steps
    batch_size: int = 100  # examples per step (MNIST-1D paper: 100)
    lr: float = 1e-2  # Adam; 1e-2 reached the paper's MLP baseline here
    optimizer: str = "adam"  # adam | sgd (VGG-HE: SGD with momentum 0.9)
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0  # L2 coefficient (sgd: torch's weight_decay)
    augment: bool = False  # random crop (4-pixel padding) + horizontal flip, per model and batch
    shuffle: bool = True  # a new batch order each epoch; False: the data's order (MNIST-1D repo)
    precision: str = "fp32"  # fp32 | bf16: forward pass autocast to bfloat16, weights fp32
    recipe: str = "plain"  # plain: the engine's loop | airbench: nnclaims.train.airbench's
    stacking: str = "loop"  # image models' K seeds: loop (one module after another) | vmap
    compile: str = "none"  # torch.compile mode of the image stack's forward pass, or none
    # choosing on a validation split (the lr search; the kinds' searches and early stopping)
    lr_grid: tuple[float, ...] = ()  # pick lr from these on a validation split
    lr_search: str = "grid"  # with lr_grid: grid (every rate) | walk (from lr outward)
    tune_seeds: int = 3  # seeds per candidate lr (and per searched set)
    # with lr_grid: every arm trains at the rate this activation validates (one shared rate,
    # chosen by a rule stated before the results), not at its own
    lr_from: str = ""
    val_fraction: float = 0.2  # share of the training set held out
    # the kind's own (nnclaims.kinds: Kind.params), those not at their defaults, sorted
    params: tuple[tuple[str, Any], ...] = ()

    def __init__(self, kind: str, arm: str, activation, **kw: Any):
        own = _kind_params(kind)
        given = dict(kw.pop("params", ()))
        for key in [k for k in kw if k not in COMMON]:
            if key not in own:
                raise ValueError(
                    f"Unknown run hyperparameter {key!r} for a {kind} run. Its kind's own: "
                    f"{', '.join(own) or 'none'}; every run's: {', '.join(COMMON)}"
                )
            given[key] = kw.pop(key)
        values = {"kind": kind, "arm": arm, "activation": activation}
        for f in fields(self)[3:-1]:
            values[f.name] = kw.get(f.name, f.default)
        alien = sorted(set(given) - set(own))
        if alien:  # e.g. dataclasses.replace(spec, kind=...) keeps the old kind's params
            raise ValueError(
                f"a {kind} run has no hyperparameter {', '.join(map(repr, alien))} (its kind's "
                f"own: {', '.join(own) or 'none'}); give params=() when changing a run's kind"
            )
        mine = {k: _frozen(v) for k, v in given.items()}
        values["params"] = tuple(sorted((k, v) for k, v in mine.items() if v != own[k]))
        for name, v in values.items():
            object.__setattr__(self, name, tuple(v) if isinstance(v, list) else v)
        self._check()

    def __getattr__(self, name: str) -> Any:
        """A kind's own hyperparameter (its default when not stored)."""
        if name.startswith("_") or "params" not in self.__dict__:
            raise AttributeError(name)
        stored = dict(self.__dict__["params"])
        if name in stored:
            return stored[name]
        own = _kind_params(self.__dict__["kind"])
        if name in own:
            return own[name]
        raise AttributeError(
            f"a {self.__dict__['kind']} run has no hyperparameter {name!r} (its kind's own: "
            f"{', '.join(own) or 'none'})"
        )

    def _check(self) -> None:
        if self.data_draw not in DATA_DRAWS:
            raise ValueError(
                f"No such data_draw: {self.data_draw!r}. Known: {', '.join(DATA_DRAWS)}"
            )
        if self.data_draw == "seed" and self.dataset not in DRAWABLE:
            raise ValueError(
                f"data_draw: seed needs a dataset with per-seed draws ({', '.join(DRAWABLE)}); "
                f"{self.dataset} has one fixed split: set data_draw: fixed"
            )
        if self.lr_from and not self.lr_grid:
            raise ValueError(f"lr_from {self.lr_from!r} picks a rate from lr_grid: give one")
        if self.lr_search not in ("grid", "walk"):
            raise ValueError(f"No such lr search: {self.lr_search!r}. Known: grid, walk")
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise {self.label_noise} is not a share in [0, 1)")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"No such precision: {self.precision!r}. Known: {', '.join(PRECISIONS)}"
            )
        if self.recipe not in RECIPES:
            raise ValueError(f"No such recipe: {self.recipe!r}. Known: {', '.join(RECIPES)}")
        if self.recipe == "airbench" and self.model != "airbench":
            raise ValueError(
                f"recipe airbench trains the airbench network (train.model: airbench), "
                f"not {self.model!r}"
            )
        if self.model == "airbench" and self.recipe != "airbench":
            raise ValueError(
                "model airbench trains with its recipe (train.recipe: airbench), which sets its "
                "whitening layer from the data: the plain loop would leave it random"
            )
        if self.stacking not in STACKINGS:
            raise ValueError(f"No such stacking: {self.stacking!r}. Known: {', '.join(STACKINGS)}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(
                f"No such compile mode: {self.compile!r}. Known: {', '.join(COMPILE_MODES)}"
            )
        plain_image = self.model in IMAGE_MODELS and self.recipe == "plain"
        if (self.stacking != "loop" or self.compile != "none") and not plain_image:
            raise ValueError(
                "train.stacking: vmap and train.compile apply to the image models trained by "
                f"the engine's loop ({', '.join(m for m in IMAGE_MODELS if m != 'airbench')}), "
                f"not to model {self.model!r} with recipe {self.recipe!r} (the MLP stacks are "
                "one batched model already; airbench trains with its own loop)"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"No such optimizer: {self.optimizer!r}. Known: {', '.join(OPTIMIZERS)}"
            )

    def own(self) -> dict[str, Any]:
        """The kind's own hyperparameters, defaults included."""
        return {**_kind_params(self.kind), **dict(self.params)}

    def non_defaults(self) -> dict[str, Any]:
        """What the run id hashes: every field not at its default, the kind's own ones beside
        them (flat: a field that moved into a kind keeps its runs' ids)."""
        out = {}
        for f in fields(self)[:-1]:
            v = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
            if default is dataclasses.MISSING or v != default:
                out[f.name] = _plain(v)
        out.update({k: _plain(v) for k, v in self.params})
        # keys in the order of the older field list: Snakemake compares a job's params as
        # written, so another order would rerun every finished run once
        return dict(sorted(out.items(), key=lambda kv: _ORDER.get(kv[0], (len(_ORDER), kv[0]))))

    @property
    def run_id(self) -> str:
        canon = json.dumps(self.non_defaults(), sort_keys=True, separators=(",", ":"))
        return f"{self.kind}_{hashlib.sha256(canon.encode()).hexdigest()[:12]}"

    def to_dict(self) -> dict[str, Any]:
        """Every hyperparameter of the run, its kind's own included (hparams.json)."""
        d = {f.name: _plain(getattr(self, f.name)) for f in fields(self)[:-1]}
        return {**d, **{k: _plain(v) for k, v in self.own().items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """The inverse of to_dict and non_defaults. A run directory written before the kinds
        owned their hyperparameters lists every kind's: the others', at the values every
        run had then, are dropped."""
        own = _kind_params(d["kind"])
        keep = [k for k in d if k in COMMON or k in own or k not in LEGACY or LEGACY[k] != d[k]]
        return cls(**{k: d[k] for k in keep})


# every kind's own hyperparameters and their defaults, registered by the kind (nnclaims.core.kind)
KIND_PARAMS: dict[str, dict[str, Any]] = {}


def register_params(kind: str, params: dict[str, Any]) -> None:
    """Kind `kind` owns `params` (name → default); none may be a field every run has."""
    clash = sorted(set(params) & set(COMMON))
    if clash:
        raise ValueError(
            f"experiment kind {kind!r}: its hyperparameter(s) {', '.join(clash)} are "
            "every run's already (nnclaims.core.hparams.RunSpec): give them other names"
        )
    KIND_PARAMS[kind] = dict(params)


def _kind_params(kind: str) -> dict[str, Any]:
    if kind not in KIND_PARAMS:
        known = (
            ", ".join(KIND_PARAMS) or "none (importing nnclaims.kinds registers the built-in kinds)"
        )
        raise ValueError(f"No such run kind: {kind!r}. Known: {known}")
    return KIND_PARAMS[kind]


def _frozen(v: Any) -> Any:
    return tuple(_frozen(x) for x in v) if isinstance(v, (list, tuple)) else v


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


COMMON = tuple(f.name for f in fields(RunSpec) if f.name != "params")
# the kinds' own hyperparameters as RunSpec fields once had them (a field each, these defaults)
LEGACY = {
    "prune_rounds": 0,
    "prune_fraction": 0.2,
    "conv_prune_fraction": 0.0,
    "rewind_epoch": 0,
    "control": "",
    "trunk": "",
    "freqs": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
    "amplitudes": [],
    "n_points": 200,
    "eval_every": 50,
    "early_stop_val": False,
    "pool": [],
    "candidates": 0,
    "keep": 0,
    "large_depth": 0,
    "search_epochs": 0,
    "widths": [],
}


BATCH_FREE = ("arm", "activation")  # fields in which the runs of one batch may differ


def batch_key(spec: RunSpec) -> str:
    """Runs with the same key can train in one stack (same data, shape and schedule)."""
    d = {k: v for k, v in spec.to_dict().items() if k not in BATCH_FREE}
    return json.dumps(d, sort_keys=True)


def batch_id(run_ids: list[str]) -> str:
    canon = ",".join(sorted(run_ids))
    return f"batch_{hashlib.sha256(canon.encode()).hexdigest()[:12]}"


# the fields of RunSpec before the kinds owned their hyperparameters, in their order
_ORDER = {
    k: (i, "")
    for i, k in enumerate(
        "kind arm activation dataset model depth width epochs batch_size lr init_scale seeds "
        "prune_rounds prune_fraction conv_prune_fraction rewind_epoch control trunk freqs "
        "amplitudes n_points eval_every layer_acts optimizer momentum weight_decay augment "
        "lr_grid lr_search tune_seeds shuffle val_fraction early_stop_val pool candidates keep "
        "large_depth search_epochs widths label_noise".split()
    )
}
