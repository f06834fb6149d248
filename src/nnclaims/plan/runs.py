"""From the experiment config to its runs ({run_id: RunSpec}) and the runs each claim reads.

The config (config/config.yaml, validated by workflow/schemas/config.schema.yaml) names arms; an
arm is an activation name or the name of a mix defined under `mixes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from nnclaims import kinds
from nnclaims.core import catalog
from nnclaims.core.hparams import RunSpec, batch_id, batch_key
from nnclaims.core.setup import Setup, arm_spec, fixed_lr, resolve_arm  # noqa: F401
from nnclaims.plan import checks
from nnclaims.plan.checks import STACKED_MODELS, design  # noqa: F401 (design: claims.py reads it here)

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


def _train_kwargs(config: dict[str, Any], claim_cfg: dict[str, Any]) -> dict[str, Any]:
    kw = {k: config["train"][k] for k in TRAIN_KEYS if k in config["train"]}
    kw.update({k: claim_cfg["train"][k] for k in TRAIN_KEYS if k in claim_cfg.get("train", {})})
    if "lr_grid" in kw:
        kw["lr_grid"] = tuple(float(x) for x in kw["lr_grid"])
    return kw if kw.get("lr_grid") else fixed_lr(kw)  # no search: lr_search is no part of it


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
