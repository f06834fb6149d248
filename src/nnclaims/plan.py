"""From the experiment config to its runs ({run_id: RunSpec}) and the runs each claim reads.

The config (config/config.yaml, validated by workflow/schemas/config.schema.yaml) names arms; an
arm is an activation name or the name of a mix defined under `mixes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import activations
from .hparams import RunSpec

CLAIMS = ("swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense")
TRAIN_KEYS = ("model", "depth", "width", "epochs", "batch_size", "lr", "init_scale")


@dataclass
class Plan:
    runs: dict[str, RunSpec] = field(default_factory=dict)
    claim_runs: dict[str, list[str]] = field(default_factory=dict)

    def add(self, claim: str, spec: RunSpec) -> str:
        rid = spec.run_id
        self.runs[rid] = spec
        ids = self.claim_runs.setdefault(claim, [])
        if rid not in ids:
            ids.append(rid)
        return rid


def resolve_arm(arm: str, mixes: dict[str, list[str]]) -> tuple[str, ...]:
    if arm in mixes:
        return tuple(mixes[arm])
    if arm in activations.ACTIVATIONS or arm in activations.TRAINABLE:
        return (arm,)
    raise ValueError(
        f"No such arm: {arm!r}. An arm is an activation "
        f"({', '.join(activations.known())}) or a mix defined under `mixes` "
        f"({', '.join(sorted(mixes)) or 'none defined'})"
    )


def _train_kwargs(config: dict[str, Any], claim_cfg: dict[str, Any]) -> dict[str, Any]:
    kw = {k: config["train"][k] for k in TRAIN_KEYS if k in config["train"]}
    kw.update({k: claim_cfg["train"][k] for k in TRAIN_KEYS if k in claim_cfg.get("train", {})})
    kw["seeds"] = tuple(range(int(config["seeds"])))
    return kw


def make_plan(config: dict[str, Any]) -> Plan:
    """All runs the config asks for. Raises ValueError naming any bad arm or claim."""
    plan = Plan()
    mixes = config.get("mixes", {})
    claims = config["claims"]
    unknown = sorted(set(claims) - set(CLAIMS))
    if unknown:
        raise ValueError(f"No such claim: {', '.join(unknown)}. Known: {', '.join(CLAIMS)}")
    for dataset in config["datasets"]:
        for claim in CLAIMS:
            if claim not in claims:
                continue
            c = claims[claim]
            kw = _train_kwargs(config, c)
            kw["dataset"] = dataset
            if claim in ("swish_vs_relu", "hat"):
                for arm in c["arms"]:
                    plan.add(claim, RunSpec("classify", arm, resolve_arm(arm, mixes), **kw))
            elif claim == "mixed_scaling":
                for size in c["sizes"]:
                    for arm in c["arms"]:
                        spec = RunSpec(
                            "classify", arm, resolve_arm(arm, mixes), **{**kw, "depth": size}
                        )
                        plan.add(claim, spec)
            elif claim == "sparse_vs_dense":
                act = resolve_arm(c.get("arm", "relu"), mixes)
                trunk = RunSpec(
                    "imp", "imp", act, prune_rounds=c["rounds"], prune_fraction=c["fraction"], **kw
                )
                tid = plan.add(claim, trunk)
                for ctl in c["controls"]:
                    plan.add(
                        claim,
                        RunSpec(
                            "control",
                            ctl,
                            act,
                            control=ctl,
                            trunk=tid,
                            prune_rounds=c["rounds"],
                            prune_fraction=c["fraction"],
                            **kw,
                        ),
                    )
    if "hat" in claims and "spectral" in claims["hat"]:
        s = claims["hat"]["spectral"]
        for arm in s["arms"]:
            plan.add(
                "hat",
                RunSpec(
                    "spectral",
                    arm,
                    resolve_arm(arm, mixes),
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
                ),
            )
    return plan
