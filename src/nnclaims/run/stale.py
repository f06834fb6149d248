"""Which finished results came from other code than now (`nnclaims stale`): run directories and
stored seeds whose recorded library and workflow code differ from the checkout's."""

from __future__ import annotations

import json
from pathlib import Path

from nnclaims.core import paths


def stale_runs(runs_dir: Path, current: dict) -> list[tuple[Path, str]]:
    """Finished run directories whose numbers came from other code than now (provenance.
    same_code: the library and the workflow's rules and scripts, not docs or notebooks), with
    that recorded version; and stored seeds (<results>/replicates/*/seed_*.json) likewise, which
    a later run would otherwise reuse."""
    from nnclaims.core.provenance import code_version, same_code

    seen: dict[str, bool] = {}  # one answer per recorded version: a check may ask git

    def stale(git: dict) -> bool:
        key = f"{code_version(git)}/{git.get('code_sha256')}"
        if key not in seen:
            seen[key] = not same_code(git, current)
        return seen[key]

    out = []
    for h in sorted(runs_dir.glob(f"*/{paths.RUN_HPARAMS}")):
        git = json.loads(h.read_text()).get("provenance", {}).get("git", {})
        if stale(git):
            out.append((h.parent, code_version(git)))
    for f in sorted(runs_dir.parent.joinpath(paths.REPLICATES.name).glob("*/seed_*.json")):
        meta = json.loads(f.read_text())
        # a seed copied from the seed archive is older by design (tests/test_archive.py)
        if "archived_from" not in meta and stale(meta.get("git", {})):
            out.append((f, code_version(meta.get("git", {}))))
    return out
