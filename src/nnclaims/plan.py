"""From the experiment config to its runs ({run_id: RunSpec}) and the runs each claim reads.

The config (config/config.yaml, validated by workflow/schemas/config.schema.yaml) names arms; an
arm is an activation name or the name of a mix defined under `mixes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import catalog, searchspace
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
    return {**{k: v for k, v in kw.items() if k != "lr_search"}, "lr_grid": ()}


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


def _label(arm: str, tag: str) -> str:
    return f"{arm}_{tag}" if tag else arm


def _add_compare_runs(plan: Plan, claim: str, c: dict, v: dict, kw: dict, config: dict) -> None:
    tag = v.get("tag", "")
    for size in c.get("sizes") or [None]:
        depth = {"depth": size} if size is not None else {}
        for arm in v["arms"]:
            spec = RunSpec("classify", _label(arm, tag), **arm_spec(arm, config), **{**kw, **depth})
            plan.add(claim, spec)
    if c.get("activation_search") and not tag:
        s = c["activation_search"]
        spec = RunSpec(
            "actsearch",
            "found",
            (searchspace.SWISH,),  # unused: each sampled function is its own activation
            candidates=s["candidates"],
            keep=s["keep"],
            search_epochs=s["epochs"],
            **kw,
        )
        plan.add(claim, spec)
    if c.get("width_sweep"):  # every variant: a sweep with noisy labels is a variant
        s = c["width_sweep"]
        spec = RunSpec(
            "widths",
            _label("sweep", tag),
            arm_spec(s.get("arm", "relu"), config)["activation"],
            widths=tuple(int(w) for w in s["widths"]),
            **_fixed_lr(kw),
        )
        plan.add(claim, spec)
    if c.get("search") and not tag:
        if kw.get("model", "mlp") not in STACKED_MODELS:
            raise ValueError(
                f"claims.{claim}.search runs on {', '.join(STACKED_MODELS)}; for "
                f"{kw['model']} list the sets to compare under `sets` and in `arms`"
            )
        if not c.get("sizes"):
            raise ValueError(f"claims.{claim}.search needs `sizes` (searched on the smallest)")
        s = c["search"]
        spec = RunSpec(
            "search",
            "best_set",
            (s["pool"][0],),
            pool=tuple(s["pool"]),
            candidates=s["candidates"],
            keep=s["keep"],
            large_depth=max(c["sizes"]),
            **{**_fixed_lr(kw), "depth": min(c["sizes"])},
        )
        plan.add(claim, spec)


def _add_imp_runs(plan: Plan, claim: str, c: dict, kw: dict, config: dict) -> None:
    act = arm_spec(c.get("arm", "relu"), config)
    prune = {
        "prune_rounds": c["rounds"],
        "prune_fraction": c["fraction"],
        "conv_prune_fraction": c.get("conv_fraction", 0.0),
        "rewind_epoch": c.get("rewind", 0),
        # the paper's early stopping reads a validation set: hold one out of training (#19.7)
        "early_stop_val": True,
    }
    kw = _fixed_lr(kw)  # the paper's fixed learning rate; no search
    tid = plan.add(claim, RunSpec("imp", "imp", **act, **prune, **kw))
    for ctl in c["controls"]:
        spec = RunSpec("control", ctl, **act, control=ctl, trunk=tid, **prune, **kw)
        plan.add(claim, spec)


def _add_spectral_runs(plan: Plan, claim: str, s: dict, config: dict) -> None:
    for arm in s["arms"]:
        spec = RunSpec(
            "spectral",
            arm,
            **arm_spec(arm, config),
            dataset="sines",
            depth=s["depth"],
            width=s["width"],
            epochs=s["steps"],
            lr=s["lr"],
            eval_every=s["eval_every"],
            freqs=tuple(s["freqs"]),
            amplitudes=tuple(s.get("amplitudes", ())),
            n_points=s["n_points"],
            batch_size=s["n_points"],
            seeds=tuple(range(int(s.get("phase_draws", config["seeds"])))),
        )
        plan.add(claim, spec)


def make_plan(config: dict[str, Any]) -> Plan:
    """All runs the config asks for. Raises ValueError naming any bad arm, claim or setting.
    A claim set to null is off (a profile merged over the default switches one off so)."""
    claims = {k: v for k, v in config["claims"].items() if v is not None}
    config = {**config, "claims": claims}
    checks.check_names(config)
    checks.check_settings(config)
    plan = Plan()
    for claim, c in config["claims"].items():
        imp = design(c) == "imp"
        for v in [c] if imp else _variants(c):
            for dataset in v.get("datasets", config["datasets"]):
                kw = _train_kwargs(config, v)
                kw["dataset"] = dataset
                n = config.get("dataset_seeds", {}).get(dataset, config["seeds"])
                kw["seeds"] = tuple(range(int(n)))
                checks.check_image_settings(kw, claim)
                if imp:
                    _add_imp_runs(plan, claim, c, kw, config)
                else:
                    _add_compare_runs(plan, claim, c, v, kw, config)
        if c.get("spectral"):
            _add_spectral_runs(plan, claim, c["spectral"], config)
    checks.check_depths(plan)
    plan.batches = make_batches(plan.runs)
    return plan


def make_batches(runs: dict[str, RunSpec]) -> dict[str, list[str]]:
    """Classification runs that differ only in their activation train as one stack in one job
    (their numbers do not change: see experiments.train_arms); 2+ per batch. This saves a
    process start-up and import (~3.7 s here) per run. Fixed-lr runs were left alone once (34 →
    26 jobs measured 518 s against 482 s, within this machine's ±20 % noise); since #15.3 added
    20 fixed-lr runs of ~5 s of training each, they batch too."""
    groups: dict[str, list[str]] = {}
    for rid, s in runs.items():
        if s.kind == "classify" and not s.layer_acts and s.model in STACKED_MODELS:
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
