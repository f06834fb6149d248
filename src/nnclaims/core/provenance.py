"""Where a result came from: git commit, package versions, machine."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "nnclaims",
    "torch",
    "numpy",
    "pandas",
    "snakemake",
    "papermill",
    "seaborn",
    "matplotlib",
    "scipy",
    "mnist1d",
    "typst",
)


# The files whose content makes a run's numbers: the library and the workflow's rules and
# scripts. Docs, notebooks (they draw, they do not train), configs (the run id hashes those) and
# tests are not among them, so editing them leaves finished runs current (`nnclaims stale`).
CODE_FILES = ("Snakefile", "workflow/Snakefile", "workflow/rules/*.smk", "workflow/scripts/*.py")
PACKAGE = Path(__file__).resolve().parents[1]  # src/nnclaims


def code_sha256(root: str | os.PathLike | None = None) -> str:
    """A hash of the code that makes the numbers: every module of this package (wherever it is
    installed) and the workflow files of CODE_FILES under `root` (default: the checkout this
    package lies in, else the working folder)."""
    checkout = PACKAGE.parents[1]
    base = Path(root) if root else checkout if (checkout / "Snakefile").is_file() else Path(".")
    files = [(f"nnclaims/{p.relative_to(PACKAGE)}", p) for p in PACKAGE.rglob("*.py")]
    files += [(str(p.relative_to(base)), p) for pat in CODE_FILES for p in base.glob(pat)]
    h = hashlib.sha256()
    for name, p in sorted(files):
        h.update(f"{name}\0{len(p.read_bytes())}\0".encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def git_state(cwd: str | None = None) -> dict[str, object]:
    """Commit of the code and whether the tree had uncommitted changes (None outside git), and
    the hash of the code that makes the numbers (code_sha256)."""

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = bool(status) if status is not None else None
    out: dict[str, object] = {
        "commit": commit,
        "dirty": dirty,
        "diff_sha256": None,
        "code_sha256": code_sha256(),
    }
    if dirty:  # which uncommitted change: two dirty runs of one commit may differ
        diff = git("diff", "HEAD")
        out["diff_sha256"] = hashlib.sha256((diff or "").encode()).hexdigest()[:16]
    return out


def code_version(git: dict[str, object]) -> str:
    """One label for a run's code: the commit, plus the diff's hash when the tree was dirty."""
    commit = str(git.get("commit") or "unknown")[:12]
    return commit + (f"+dirty:{git.get('diff_sha256')}" if git.get("dirty") else "")


def same_code(was: dict[str, object], now: dict[str, object], cwd: str | None = None) -> bool:
    """Whether a run recorded as `was` (git_state) came from the code that makes numbers now.
    Both with a code hash: the hashes. A record from before the hash: the same commit and diff,
    or a clean commit whose code files equal today's working tree (`git diff` on CODE_FILES)."""
    if was.get("code_sha256") and now.get("code_sha256"):
        return was["code_sha256"] == now["code_sha256"]
    if code_version(was) == code_version(now):
        return True
    if was.get("dirty") or not was.get("commit"):
        return False  # its uncommitted diff is gone: no way to tell, so not the same
    paths = ["src/nnclaims", *CODE_FILES]
    try:
        r = subprocess.run(["git", "diff", "--quiet", str(was["commit"]), "--", *paths], cwd=cwd,
                           capture_output=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def code_summary(gits: list[dict[str, object]], current: dict[str, object]) -> dict[str, object]:
    """The code versions a set of runs came from, for the report: each version with its run
    count, and a warning when they differ from each other or from the code now, or are dirty.
    Seeds copied from the seed archive (an `archived_from` key) are listed apart: they come from
    an older commit by design, and tests/test_archive.py checks them against the code now."""
    counts: dict[str, int] = {}
    archived: dict[str, int] = {}
    for g in gits:
        v = code_version(g)
        into = archived if g.get("archived_from") else counts
        into[v] = into.get(v, 0) + 1
    now = code_version(current)
    warnings = []
    if len(counts) > 1:
        warnings.append(f"the runs come from {len(counts)} code versions")
    if any("+dirty" in v for v in [*counts, *archived]):
        warnings.append("some runs were trained with uncommitted changes")
    trained = {code_version(g): g for g in gits if not g.get("archived_from")}
    if any(not same_code(g, current) for g in trained.values()):
        warnings.append(f"the code now ({now}) differs from the runs' code: `nnclaims stale`")
    return {
        "versions": [{"version": v, "runs": n} for v, n in sorted(counts.items())],
        "archived": [{"version": v, "runs": n} for v, n in sorted(archived.items())],
        "now": now,
        "warning": "; ".join(warnings),
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, object]:
    hw: dict[str, object] = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None}
    try:
        import torch

        if torch.cuda.is_available():
            hw["gpu"] = torch.cuda.get_device_name(0)
        hw["cpu_kernels"] = torch.backends.cpu.get_cpu_capability()  # ATEN_CPU_CAPABILITY
    except ImportError:
        pass
    return hw


def declared(config: dict | None, claims_file: str = "config/claims.yaml") -> dict[str, object]:
    """What the run was declared under: SHA-256 of the claims file and of the config in effect
    (None where not known), so that a hypothesis changed after the run is visible."""
    import json

    f = Path(claims_file)
    return {
        "claims_sha256": hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None,
        "config_sha256": None
        if config is None
        else hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
    }


def stamp(cwd: str | None = None) -> dict[str, object]:
    return {
        "git": git_state(cwd),
        "versions": versions(),
        "hardware": hardware(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
