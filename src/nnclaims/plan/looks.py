"""The looks of a config's design: at look k every dataset has looks[k] seeds (config `decide`),
or, without `decide`, one look at the config's seeds (`dataset_seeds` per dataset). One run plan
per look; a claim's runs at look k differ from look k−1's in their seeds only, and the replicate
store (nnclaims.run.replicates) trains just the added ones. Plain Python: the DAG reads it on a
submit host.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from nnclaims.plan.runs import Plan, make_plan


def looks(config: dict[str, Any]) -> list[int] | None:
    """The declared looks (seeds at each), or None for the fixed design (one look)."""
    decide = config.get("decide")
    if not decide:
        return None
    out = [int(n) for n in decide["looks"]]
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"decide.looks: seed counts must increase, got {out}")
    if out[0] != int(config["seeds"]):
        raise ValueError(
            f"decide.looks starts at {out[0]} seeds but `seeds` is {config['seeds']}: the first "
            f"look is the run's seeds; set seeds: {out[0]} or start the looks at {config['seeds']}"
        )
    return out


def plans(config: dict[str, Any]) -> list[Plan]:
    """One run plan per look (one for the fixed design)."""
    ns = looks(config)
    if ns is None:
        return [make_plan(config)]
    base = {k: v for k, v in config.items() if k != "dataset_seeds"}
    return [make_plan({**base, "seeds": n}) for n in ns]


def merged(per_look: list[Plan]) -> Plan:
    """Every look's runs and batches in one plan (the rules' wildcards match any of them); its
    claim_runs are the first look's."""
    out = Plan(claim_runs=dict(per_look[0].claim_runs))
    for p in per_look:
        out.runs.update(p.runs)
        out.batches.update(p.batches)
    return out


def state(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def continues(path: str | os.PathLike) -> bool:
    """Whether a claim goes on to its next look (the design state written at this one)."""
    return bool(state(path).get("continue"))


def settle(claim: str, source: dict, target: dict, log: str | os.PathLike) -> None:
    """Copy a claim's table, runs and design state at the last look it reached (`source`, as the
    workflow's rule `settle` finds it) to the files every later rule reads (`target`)."""
    for what in ("table", "runs", "design"):
        shutil.copyfile(source[what], target[what])
    with open(log, "w") as f:
        f.write(f"{claim}: the last look it reached is {source['table']}\n")
