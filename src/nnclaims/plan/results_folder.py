"""Which folder a config may write its results into: never over the project's own files.

The pipeline writes executed notebooks, figures and a report build folder that it empties
before each build, all under the config's `results`. A `results` that points into the source
tree (workflow/: an executed notebook lands on its source notebook) or at a folder of someone
else's files (/, /etc, the home folder) would overwrite or delete them. So a results folder is
refused before any job when it overlaps a file or folder the checkout tracks, and, outside the
checkout's results/, unless it is new, empty, or already holds nnclaims results. Imports the
standard library only (the Snakefile uses it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Written into a results folder when a run starts in it: a later run recognises it as ours.
MARKER = ".nnclaims-results"


def _tracked(root: Path) -> list[Path] | None:
    """The checkout's tracked files (relative paths), or None outside git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [Path(p) for p in out.decode(errors="replace").split("\0") if p]


def _is_ours(folder: Path) -> bool:
    """A folder a run of nnclaims wrote: the marker, or run records or stored seeds of an
    earlier version (which wrote no marker)."""
    if (folder / MARKER).is_file():
        return True
    return any(folder.glob("runs/*/hparams.json")) or any(folder.glob("replicates/*/seed_*.json"))


def problem(results: str | os.PathLike, root: str | os.PathLike) -> str | None:
    """What is wrong with `results` (from the working folder) as the results folder of the
    checkout at `root`, in one line naming the fix; None when it is safe to write there."""
    root = Path(root).resolve()
    folder = Path(results).resolve()
    fix = "set `results` to a new or empty folder, e.g. results/mine (config/README.md)"
    head = f"results: {str(results)!r} (= {folder})"
    if folder == Path(folder.anchor) or folder == Path.home().resolve():
        return f"{head} is the filesystem root or the home folder; {fix}"
    if folder == root or folder in root.parents:
        return f"{head} holds the project checkout itself; {fix}"
    if folder.is_relative_to(root):
        rel = folder.relative_to(root)
        if rel.parts[0] in (".git", ".snakemake"):
            return f"{head} is inside {rel.parts[0]}/, which git or Snakemake keep; {fix}"
        tracked = _tracked(root)
        if tracked is None:  # not a git checkout: the project's own top-level entries
            tracked = [p.relative_to(root) for p in root.iterdir() if p.name != "results"]
        # a tracked file under it would be overwritten; a tracked folder around it mixes
        # generated files into the sources (an executed notebook may land on its source)
        dirs = {d for t in tracked for d in t.parents if d != Path(".")}
        clash = next((t for t in tracked if t.is_relative_to(rel) or rel.is_relative_to(t)), None)
        clash = clash or next((d for d in sorted(dirs) if rel.is_relative_to(d)), None)
        if clash is not None:
            return f"{head} overlaps the project's files ({clash} is part of the checkout); {fix}"
        if folder.is_relative_to(root / "results"):  # the checkout's own git-ignored results/
            return None
    if folder.is_file():
        return f"{head} is a file, not a folder; {fix}"
    if folder.is_dir() and any(folder.iterdir()) and not _is_ours(folder):
        return (
            f"{head} already holds files that nnclaims did not write (no {MARKER} in it), and "
            f"a run replaces folders there (report/, figures/); {fix}. If it is an nnclaims "
            f"results folder after all, create the empty file {folder / MARKER}"
        )
    return None


def mark(results: str | os.PathLike) -> None:
    """Make `results` and record that nnclaims writes there (before the first job)."""
    folder = Path(results)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()
