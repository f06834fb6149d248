"""Write results so that no reader sees half a file: write to a temporary name, then rename."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the Snakefile reads YAML with the standard library alone
    import numpy as np
    import pandas as pd


# Space below which a failed write is taken to be a full disk: torch and pyarrow report a full
# disk as "unexpected pos …" or "basic_ios::clear", not as ENOSPC.
_NEARLY_FULL = 1 << 20


class DamagedFile(ValueError):
    """A results file that exists but cannot be read (truncated, overwritten, not ours)."""


def _disk_full(path: Path, exc: BaseException) -> OSError | None:
    """An OSError naming the folder when `exc` came from a full disk, else None."""
    full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    if not full:
        try:
            full = shutil.disk_usage(path.parent).free < _NEARLY_FULL
        except OSError:
            return None
    if not full:
        return None
    return OSError(
        errno.ENOSPC,
        f"No space left on {path.parent} while writing {path.name}: free some space and rerun; "
        "finished results are untouched (files are written under a temporary name first)",
    )


@contextlib.contextmanager
def full_disk_named(path: str | os.PathLike):
    """Re-raise an OSError from a full disk inside the block as the message naming `path`'s
    folder and the fix (a copy or a folder made outside atomic_path fails so too)."""
    try:
        yield
    except OSError as e:
        full = _disk_full(Path(path), e)
        if full is None:
            raise
        raise full from e


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it is renamed onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        full = _disk_full(path, e)
        if full is None:
            raise
        raise full from e
    finally:
        if tmp.exists():
            tmp.unlink()


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz file; a damaged file is a DamagedFile error naming it."""
    import numpy as np

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {n: z[n] for n in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DamagedFile(
            f"{path} is damaged ({type(e).__name__}: {e}); delete it and rerun to rebuild it"
        ) from e


def _record_sha256(meta: dict[str, Any]) -> str:
    """SHA-256 of a run record as JSON reads it back, without its own checksum field."""
    plain = json.loads(json.dumps(meta, default=_jsonable))
    plain.pop("record_sha256", None)
    canon = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def write_run_files(
    df: pd.DataFrame, meta: dict[str, Any], metrics: str | os.PathLike, hparams: str | os.PathLike
) -> None:
    """A run's tidy table and its record, each with a checksum in the record (`metrics_sha256`,
    `record_sha256`), checked when tables are collected: an edited number or lr_used is caught
    rather than reaching the PDF. The table is written last: its presence means the run ended."""
    import io as _io

    buf = _io.BytesIO()
    df.to_parquet(buf, index=False)
    meta = {**meta, "metrics_sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
    meta["record_sha256"] = _record_sha256(meta)
    write_json(meta, hparams)
    with atomic_path(metrics) as tmp:
        tmp.write_bytes(buf.getvalue())


def read_run_files(metrics: str | os.PathLike, hparams: str | os.PathLike):
    """A run's tidy table and hparams.json; a damaged one, or one changed after its run wrote it
    (its checksum in the record differs), is a DamagedFile naming it and the fix."""
    import pandas as pd

    fix = f"delete {Path(metrics).parent} and rerun to retrain it (other runs are kept)"
    try:
        df = pd.read_parquet(metrics)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        raise DamagedFile(f"{metrics} cannot be read ({type(e).__name__}: {e}); {fix}") from e
    try:
        meta = json.loads(Path(hparams).read_text())
    except (OSError, ValueError) as e:
        raise DamagedFile(f"{hparams} cannot be read ({type(e).__name__}: {e}); {fix}") from e
    changed = f"was changed after its run wrote it (its SHA-256 differs from {hparams}'s record)"
    if "record_sha256" in meta and _record_sha256(meta) != meta["record_sha256"]:
        raise DamagedFile(f"{hparams} was changed after its run wrote it (record_sha256); {fix}")
    want = meta.get("metrics_sha256")
    if want and hashlib.sha256(Path(metrics).read_bytes()).hexdigest() != want:
        raise DamagedFile(f"{metrics} {changed}; {fix}")
    return df, meta


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def _jsonable(x: Any):
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"Cannot write {type(x).__name__} as JSON")


def archive_problem(archive: str | os.PathLike | None) -> str | None:
    """What is wrong with config `seed_archive` (nnclaims.run.replicates), or None: a folder that is
    not there would silently train what it should have copied (an hour: the lottery trials)."""
    if archive is None:
        return None
    if Path(archive).is_dir():  # every file, before any job copies one
        return archived_file_problem(archive, sorted(Path(archive).glob("*/*")))
    return (
        f"seed_archive: {str(archive)!r} is not a folder (from {Path.cwd()}); give the "
        "repository's archive/ folder, or null to train every seed"
    )


ARCHIVE_INDEX = "SHA256SUMS"  # the seed archive's index: `sha256sum -c SHA256SUMS` checks it


def read_archive_index(archive: str | os.PathLike) -> dict[str, str]:
    """The seed archive's index: path in the archive → SHA-256 of every archived file."""
    f = Path(archive) / ARCHIVE_INDEX
    lines = f.read_text().splitlines() if f.exists() else []
    return {name: digest for digest, _, name in (line.partition("  ") for line in lines)}


def archived_file_problem(archive: str | os.PathLike, files: list[Path]) -> str | None:
    """The first of `files` (in the seed archive) whose SHA-256 differs from the one the index
    recorded when `nnclaims archive` wrote it, or that the index lacks; None if all match. An
    edited seed would otherwise flow into a verdict unnoticed."""
    index, where = read_archive_index(archive), Path(archive) / ARCHIVE_INDEX
    for f in files:
        name = Path(f).relative_to(archive).as_posix()
        if name not in index:
            return (
                f"seed_archive: {f} is not listed in {where}: only `nnclaims archive` adds seeds "
                "(archive/README.md); remove the file or archive its seed"
            )
        if hashlib.sha256(Path(f).read_bytes()).hexdigest() != index[name]:
            return (
                f"seed_archive: {f} was changed after it was archived (its SHA-256 differs from "
                f"{where}); restore it (git checkout -- {f}) or archive its seed again"
            )
    return None
