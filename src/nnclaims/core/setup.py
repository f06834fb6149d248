"""What a kind's planning hook gets (a Setup: one setup of a claim on one dataset) and how an
arm's name becomes its activation fields, from the config's `mixes` and `sets`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnclaims.core import catalog


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


def fixed_lr(kw: dict[str, Any]) -> dict[str, Any]:
    """Training settings without an lr search (the run trains at `lr`; how it would search is
    no part of the run, nor of its id)."""
    return {**{k: v for k, v in kw.items() if k not in ("lr_search", "lr_from")}, "lr_grid": ()}


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
        return fixed_lr(self.train)
