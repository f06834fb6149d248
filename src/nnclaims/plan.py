"""From the experiment config to its runs ({run_id: RunSpec}) and the runs each claim reads.

The config (config/config.yaml, validated by workflow/schemas/config.schema.yaml) names arms; an
arm is an activation name or the name of a mix defined under `mixes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import catalog, kinds
from . import plan_checks as checks
from .hparams import RunSpec, batch_id, batch_key
from .plan_checks import STACKED_MODELS, design  # noqa: F401 (design: claims.py reads it here)

TRAIN_KEYS = (
    "model",
    "depth",
    "width",
    "epochs",
    "batch_size",
    "lr",
    "init_scale",
    "optimizer",
    "momentum",
    "weight_decay",
    "augment",
    "lr_grid",
    "lr_search",
    "tune_seeds",
    "shuffle",
    "label_noise",
    "precision",
    "recipe",
    "stacking",
    "compile",
    "data_draw",
    "lr_from",
)


@dataclass
class Plan:
    runs: dict[str, RunSpec] = field(default_factory=dict)
    claim_runs: dict[str, list[str]] = field(default_factory=dict)
    batches: dict[str, list[str]] = field(default_factory=dict)  # batch id -> run ids

    def batch_of(self, run_id: str) -> str | None:
        for bid, ids in self.batches.items():
            if run_id in ids:
                return bid
        return None

    def add(self, claim: str, spec: RunSpec) -> str:
        if not kinds.get(spec.kind).needs_data and spec.data_draw != "fixed":
            spec = replace(spec, data_draw="fixed")  # it makes its own data
        rid = spec.run_id
        self.runs[rid] = spec
        ids = self.claim_runs.setdefault(claim, [])
        if rid not in ids:
            ids.append(rid)
        return rid


def resolve_arm(
    arm: str, mixes: dict[str, list[str]], sets: dict[str, list[str]] | None = None
) -> tuple[str, ...]:
    """An arm's within-layer activation: a function name, a mix's functions, or (for a per-layer
    set, whose functions go in `layer_acts`) its first function as a placeholder."""
    sets = sets or {}
    if arm in mixes:
        return tuple(mixes[arm])
    if arm in sets:
        return (sets[arm][0],)
    if arm in catalog.ACTIVATIONS or arm in catalog.TRAINABLE:
        return (arm,)
    raise ValueError(
        f"No such arm: {arm!r}. An arm is an activation "
        f"({', '.join(catalog.known_activations())}), a mix defined under `mixes` "
        f"({', '.join(sorted(mixes)) or 'none defined'}) or a per-layer set under `sets` "
        f"({', '.join(sorted(sets)) or 'none defined'})"
    )


def arm_spec(arm: str, config: dict[str, Any]) -> dict[str, Any]:
    """RunSpec fields for an arm: activation, and layer_acts for a per-layer set."""
    mixes, sets = config.get("mixes", {}), config.get("sets", {})
    out: dict[str, Any] = {"activation": resolve_arm(arm, mixes, sets)}
    if arm in sets:
        out["layer_acts"] = tuple(sets[arm])
    return out


def _train_kwargs(config: dict[str, Any], claim_cfg: dict[str, Any]) -> dict[str, Any]:
    kw = {k: config["train"][k] for k in TRAIN_KEYS if k in config["train"]}
    kw.update({k: claim_cfg["train"][k] for k in TRAIN_KEYS if k in claim_cfg.get("train", {})})
    if "lr_grid" in kw:
        kw["lr_grid"] = tuple(float(x) for x in kw["lr_grid"])
    return kw if kw.get("lr_grid") else _fixed_lr(kw)  # no search: lr_search is no part of it


def _fixed_lr(kw: dict[str, Any]) -> dict[str, Any]:
    """Training settings without an lr search (the run trains at `lr`; how it would search is
    no part of the run, nor of its id)."""
    return {**{k: v for k, v in kw.items() if k not in ("lr_search", "lr_from")}, "lr_grid": ()}


def _variants(c: dict[str, Any]) -> list[dict[str, Any]]:
    """A claim's experiment setups: the claim's own, then each of `variants` (a tag, arms, and
    train/dataset overrides; its arms are labelled <arm>_<tag>)."""
    base = {"tag": "", "arms": c.get("arms", []), "train": c.get("train", {})}
    if "datasets" in c:
        base["datasets"] = c["datasets"]
    out = [base]
    for v in c.get("variants", []):
        merged = {**base, **v, "train": {**base["train"], **v.get("train", {})}}
        out.append(merged)
    return out


@dataclass
class Setup:
    """What a kind's `plan` hook gets: one setup of a claim (its own, or a variant's) on one
    dataset, or (for a `per_claim` kind) the claim alone."""

    claim: str  # the claim's id
    c: dict[str, Any]  # the claim's config
    config: dict[str, Any]  # the whole config
    tag: str = ""  # the variant's tag ("": the claim's own setup)
    arms: list[str] = field(default_factory=list)  # the setup's arms
    train: dict[str, Any] = field(default_factory=dict)  # its RunSpec fields, dataset and seeds

    def arm_spec(self, arm: str) -> dict[str, Any]:
        """RunSpec fields for an arm: activation, and layer_acts for a per-layer set."""
        return arm_spec(arm, self.config)

    def label(self, arm: str) -> str:
        """An arm's label in this setup: <arm>_<tag> in a variant."""
        return f"{arm}_{self.tag}" if self.tag else arm

    def fixed_lr(self) -> dict[str, Any]:
        """The setup's training fields without an lr search (the run trains at `lr`)."""
        return _fixed_lr(self.train)


def _kinds_asked(c: dict[str, Any]) -> list[kinds.Kind]:
    """The kinds whose config block the claim (or one of its variants) has, not empty (a
    profile switches a block off with null)."""
    blocks = {b for x in (c, *c.get("variants", [])) for b, v in x.items() if v}
    return [k for k in kinds.ordered() if k.block is not None and k.block in blocks]


def make_plan(config: dict[str, Any]) -> Plan:
    """All runs the config asks for. Raises ValueError naming any bad arm, claim or setting.
    A claim set to null is off (a profile merged over the default switches one off so).

    Every kind whose config block a claim has plans its runs (nnclaims.kinds): per setup (the
    claim's own and each variant's) and dataset, or once per claim."""
    claims = {k: v for k, v in config["claims"].items() if v is not None}
    config = {**config, "claims": claims}
    checks.check_names(config)
    checks.check_settings(config)
    plan = Plan()
    for claim, c in config["claims"].items():
        asked = _kinds_asked(c)
        if not asked:
            blocks = ", ".join(k.block for k in kinds.ordered() if k.block)
            raise ValueError(f"claims.{claim} runs nothing: give it one of {blocks}")
        for k in asked:
            if k.check is not None:
                k.check(claim, c, config)
        for v in _variants(c):
            for dataset in v.get("datasets", config["datasets"]):
                kw = _train_kwargs(config, v)
                kw["dataset"] = dataset
                kw.setdefault("data_draw", "seed" if dataset in catalog.DRAWABLE else "fixed")
                n = config.get("dataset_seeds", {}).get(dataset, config["seeds"])
                kw["seeds"] = tuple(range(int(n)))
                checks.check_image_settings(kw, claim)
                setup = Setup(claim, c, config, v.get("tag", ""), v["arms"], kw)
                for k in asked:
                    if not k.per_claim:
                        for spec in k.plan(setup):
                            plan.add(claim, spec)
        for k in asked:
            if k.per_claim:
                for spec in k.plan(Setup(claim, c, config)):
                    plan.add(claim, spec)
    checks.check_depths(plan)
    checks.check_size(plan)
    plan.batches = make_batches(plan.runs)
    return plan


def make_batches(runs: dict[str, RunSpec]) -> dict[str, list[str]]:
    """Classification runs that differ only in their activation train as one stack in one job
    (their numbers do not change: see experiments.train_arms); 2+ per batch. This saves a
    process start-up and import (a few seconds) per run, fixed-lr runs included."""
    groups: dict[str, list[str]] = {}
    for rid, s in runs.items():
        if kinds.get(s.kind).batched and not s.layer_acts and s.model in STACKED_MODELS:
            groups.setdefault(batch_key(s), []).append(rid)
    out = {}
    for ids in groups.values():
        # at most MAX_BATCH arms per job: a stack of more is no faster per model here, and
        # smaller jobs spread better over the cores
        n = -(-len(ids) // MAX_BATCH)
        for chunk in (ids[i::n] for i in range(n)):
            if len(chunk) > 1:
                out[batch_id(chunk)] = chunk
    return out


MAX_BATCH = 6
