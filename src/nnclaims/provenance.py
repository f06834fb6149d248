"""Where a result came from: git commit, package versions, machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata

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


def git_state(cwd: str | None = None) -> dict[str, object]:
    """Commit of the code and whether the tree had uncommitted changes (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


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
    except ImportError:
        pass
    return hw


def stamp(cwd: str | None = None) -> dict[str, object]:
    return {
        "git": git_state(cwd),
        "versions": versions(),
        "hardware": hardware(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
