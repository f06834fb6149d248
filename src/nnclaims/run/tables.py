"""Tidy tables: a claim's table is the concatenation of its runs' tables with a `claim` column."""

from __future__ import annotations

import os

import pandas as pd

from nnclaims.core.files import read_run_files, write_json, write_parquet


def collect(
    claim: str,
    metrics: list[str],
    hparams: list[str],
    out_table: str | os.PathLike,
    out_runs: str | os.PathLike,
) -> pd.DataFrame:
    frames, runs = [], []
    for m, h in zip(metrics, hparams):
        df, meta = read_run_files(m, h)
        df.insert(0, "run_id", meta["run_id"])
        frames.append(df)
        # the code of each seed: a run assembled from stored replicates may span versions
        reps = meta.get("replicates") or {}
        # (a seed copied from the seed archive says so: the report lists those apart)
        code = [
            {**r.get("git", {}), **{k: r[k] for k in ("archived_from",) if k in r}}
            for r in reps.values()
        ] or [meta["provenance"]["git"]]
        runs.append({"run_id": meta["run_id"], **meta["hparams"], "code": code,
                     "wall_seconds": meta.get("wall_seconds")})  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "claim", claim)
    write_parquet(table, out_table)
    write_json(runs, out_runs)
    return table


def concat(tables: list[str], out: str | os.PathLike) -> pd.DataFrame:
    """All claims' tables in one (a run shared by claims appears once per claim)."""
    df = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
    write_parquet(df, out)
    return df
