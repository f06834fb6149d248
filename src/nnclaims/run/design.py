"""One look of a claim's design, as the `collect` checkpoint runs it: evaluate the claim on the
look's table, step the design (nnclaims.stats.looks) and write the state, logging which look
the claim is at and why it goes on or stops."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from nnclaims.core.files import write_json
from nnclaims.core.kind import TUNE_SEED_BASE
from nnclaims.plan import claims as claims_doc
from nnclaims.stats import looks, verdicts

log = logging.getLogger(__name__)


def seeds_in(df: pd.DataFrame) -> dict[str, int]:
    """Seeds per dataset in a claim's table (what was trained, not what the config asked)."""
    if "seed" not in df or "dataset" not in df:
        return {}
    runs = df[df["seed"] < TUNE_SEED_BASE]  # not the lr search's tuning seeds
    return {str(d): int(n) for d, n in runs.groupby("dataset")["seed"].nunique().items()}


def step(
    claim: str,
    table: pd.DataFrame,
    claims_file: str | os.PathLike,
    alpha: float,
    declared: list[int] | None,
    k: int,
    prev: str | os.PathLike | None,
    out: str | os.PathLike,
) -> dict[str, Any]:
    spec = {**claims_doc.load(claims_file)[claim], "alpha": float(alpha)}
    evaluation = verdicts.evaluate_claim(table, spec)
    if declared is None:
        state = looks.fixed_state(evaluation, seeds_in(table))
    else:
        before = json.loads(Path(prev).read_text()) if prev else None
        state = looks.look_state(evaluation, declared, k, before)
    state["claim"] = claim
    write_json(state, out)
    decided = sum(t["decided"] for t in state["tests"].values())
    at = f"look {k} of {len(declared)} ({declared[k - 1]} seeds)" if declared else "one look"
    log.info(
        "%s at %s: %d of %d tests decided; %s %s",
        claim, at, decided, len(state["tests"]),
        "continues:" if state["continue"] else "stops:", state["why"],
    )  # fmt: skip
    return state
