"""Hypotheses are declared before the data that tests them: which of a claim's hypotheses were
added or changed after the oldest seed its runs read was trained.

Each seed records the commit that trained it (nnclaims.core.provenance). For each claim, the oldest
of those commits (by commit time) is compared, hypothesis by hypothesis, with config/claims.yaml as
it is now: a hypothesis whose wording, metric, sides, direction, margin, test, datasets or role
differs, or that the file at that commit lacks, was set after that seed existed. The report lists
them (a reader sees what was declared after seeing results), beside the choices the project
discloses itself (`after_results`). Only git and the standard library: the report rule runs it.
"""

from __future__ import annotations

import subprocess
from typing import Any

# what a hypothesis decides with: a change to any of these after its data changes the test
DECIDING = ("text", "metric", "a", "b", "direction", "threshold", "test", "datasets", "primary")


def _git(*args: str, cwd: str | None = None) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def oldest(commits: set[str], cwd: str | None = None) -> str | None:
    """The commit of `commits` with the earliest commit time (None when git knows none)."""
    times = {}
    for c in commits:
        out = _git("show", "-s", "--format=%ct", c, cwd=cwd)
        if out and out.strip().isdigit():
            times[c] = int(out.strip())
    return min(times, key=times.get) if times else None


def claims_at(commit: str, path: str = "config/claims.yaml", cwd: str | None = None) -> dict:
    """config/claims.yaml as committed in `commit` ({} where it did not exist or is unreadable)."""
    import yaml

    text = _git("show", f"{commit}:{path}", cwd=cwd)
    try:
        doc = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def changed_since(
    now: dict[str, Any], commits: dict[str, set[str]], cwd: str | None = None
) -> list[str]:
    """Per claim of `now` (claims.yaml as it is), the hypotheses added or changed since the
    oldest of `commits[claim]` (the commits that trained the claim's seeds), in words."""
    out = []
    for cid, entry in now.items():
        first = oldest(commits.get(cid, set()), cwd)
        if first is None:
            continue
        then = {
            h["id"]: h for h in (claims_at(first, cwd=cwd).get(cid) or {}).get("hypotheses", [])
        }
        for h in entry["hypotheses"]:
            before = then.get(h["id"])
            what = None
            if before is None:
                what = "added"
            else:
                keys = [k for k in DECIDING if h.get(k) != before.get(k)]
                what = f"changed ({', '.join(keys)})" if keys else None
            if what:
                out.append(
                    f"{entry['title']}: “{h['text']}” {what} after commit {first[:7]} trained "
                    "the oldest seed it reads"
                )
    return out
