"""Run one RunSpec (or a batch of them) and write its run directory: metrics.parquet (the tidy
table, nnclaims.tidy), hparams.json (what was measured: the lr used, the device, provenance) and
masks.npz for IMP.

How a run trains is its kind's business (nnclaims.kinds: one module per kind); this module sets
up the process (threads, determinism, device), reuses seeds stored by earlier runs of the same
setup (nnclaims.replicates), checkpoints, and writes the directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import data as datamod
from . import kinds, paths, seeding, weights
from . import replicates as replicate_store
from .engine import resolve_device
from .hparams import RunSpec
from .io import atomic_path, write_run_files
from .kinds.classify import run_classify, train_arms  # noqa: F401 (entry points, re-exported)
from .kinds.common import search_score, validation_split  # noqa: F401
from .kinds.imp import load_masks, run_control, run_imp, ticket  # noqa: F401
from .kinds.search import candidate_sets, run_search, set_name  # noqa: F401
from .kinds.spectral import run_spectral  # noqa: F401
from .provenance import declared, git_state, stamp
from .tidy import COLUMNS

log = logging.getLogger(__name__)


def _deterministic() -> None:
    """torch.use_deterministic_algorithms(True) without its import of torch._inductor (1 s of
    every job's start-up here): that import only sets inductor's flag, and nothing here compiles."""
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # a torch without the private setter: the public call
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True)


def setup(spec: RunSpec, threads: int, device: str) -> torch.device:
    """The process's threads, determinism and dropout seed; returns the device to train on."""
    dev = resolve_device(device)
    torch.set_num_threads(threads)
    if dev.type == "cpu":
        _deterministic()
    else:  # cuDNN's deterministic kernels where they exist; some ops have none
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seeding.derive_seed(spec.seeds[0], "dropout"))
    return dev


def _file_sha256(path) -> str | None:
    if path is None or not Path(path).exists():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _draws_record(spec: RunSpec, data_path) -> dict:
    """Which data each seed was tested on: the file's one draw, or each data seed's own draw
    (the sha256 of its file, where it was made)."""
    if spec.data_draw != "seed" or data_path is None:
        return {"data_draw": "fixed"}
    seeds = dict.fromkeys(kinds.get(spec.kind).data_seeds(spec))
    files = {s: datamod.draw_file(data_path, s) for s in seeds}
    return {"data_draw": "seed", "draw_sha256": {str(s): _file_sha256(f) for s, f in files.items()
                                                  if f.exists()}}  # fmt: skip


def _finish(
    spec: RunSpec,
    out_dir: Path,
    df: pd.DataFrame,
    wall: float,
    threads: int,
    device: torch.device,
    extra=None,
    data_path=None,
):
    trained = df[df["split"] != "val"]
    record = {
        "run_id": spec.run_id,
        "hparams": spec.to_dict(),
        # what was measured, not what the config intended: the rates the models trained at
        "lr_used": sorted({float(x) for x in trained["lr"].unique()}),
        "data_sha256": _file_sha256(data_path),
        **_draws_record(spec, data_path),
        "wall_seconds": round(wall, 2),
        "threads": threads,
        "device": str(device),
        "determinism": "torch.use_deterministic_algorithms(True), CPU"
        if device.type == "cpu"
        else "deterministic algorithms where CUDA has them (warn_only)",
        "provenance": stamp(),
        **(extra or {}),
    }
    write_run_files(df, record, out_dir / paths.RUN_METRICS, out_dir / paths.RUN_HPARAMS)
    log.info("run %s done: %d rows", spec.run_id, len(df))


def _seed_meta(run_id: str, data_path) -> dict:
    return {"trained_in": run_id, "git": git_state(), "data_sha256": _file_sha256(data_path)}


def _assemble(spec: RunSpec, store, out_dir: Path, keep_weights: bool) -> pd.DataFrame:
    """A run's rows (and IMP masks, and weights) from its setup's stored seeds."""
    searched = store.search()
    df = store.rows(spec.seeds)
    if searched is not None:
        df = pd.concat([searched, df], ignore_index=True)
    if "masks" in kinds.get(spec.kind).outputs:
        with atomic_path(out_dir / paths.RUN_MASKS) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **store.masks(spec.seeds))
    stored = store.weights(spec.seeds) if keep_weights else None
    if stored is not None:
        weights.save(out_dir / paths.RUN_WEIGHTS, *stored, spec.run_id)
    elif keep_weights and all("archived_from" in m for m in store.meta(spec.seeds).values()):
        log.info("run %s: seeds from the seed archive keep no weights", spec.run_id)
    elif keep_weights:  # seeds stored before weights were kept: the rows stay valid
        log.warning("run %s: some stored seeds have no weights; none kept", spec.run_id)
    return df[COLUMNS]


def _weights_out(out_dir: Path, tmp_dir: Path, store, keep: bool, run_id: str) -> Path | None:
    """Where a kind writes a run's final weights: the run directory, or (with a replicate
    store, which then merges them with the stored seeds') a file beside the checkpoints."""
    (out_dir / paths.RUN_WEIGHTS).unlink(missing_ok=True)  # never a stale file beside new rows
    if not keep:
        return None
    return out_dir / paths.RUN_WEIGHTS if store is None else tmp_dir / f"{run_id}.safetensors"


def _weights_note(out_dir: Path) -> dict:
    """What hparams.json says of the weights: the file, or None when none was written."""
    f = out_dir / paths.RUN_WEIGHTS
    return {"weights": paths.RUN_WEIGHTS if f.exists() else None}


def _store(spec: RunSpec, replicates, archive=None, data_path=None):
    """The setup's replicate store, with its archived seeds copied in (replicates.py)."""
    if replicates is None or not replicate_store.reusable(spec):
        return None
    store = replicate_store.Store(replicates, spec)
    if archive is not None:
        replicate_store.import_archived(store, archive, spec.seeds, _file_sha256(data_path))
    return store


def _keep(
    store, run_id: str, seeds: list[int], df: pd.DataFrame, masks, data_path, fresh_weights=None
) -> None:
    """Store the seeds run `run_id` just trained (and the setup's search, once), with their
    weights when the kind wrote them to `fresh_weights`."""
    if fresh_weights is not None and Path(fresh_weights).exists():
        store.save_weights(*weights.read(fresh_weights), run_id)
    val = df["split"] == "val"
    if val.any() and store.search() is None:
        store.save_search(df[val])
    store.save(df[~val], seeds, _seed_meta(run_id, data_path), masks)


def run(
    spec: RunSpec,
    out_dir: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
    trunk_masks: str | os.PathLike | None = None,
    threads: int = 1,
    device: str = "cpu",
    replicates: str | os.PathLike | None = None,
    keep_weights: bool = True,
    inputs: dict[str, str | os.PathLike] | None = None,
    archive: str | os.PathLike | None = None,
    config: dict | None = None,
) -> pd.DataFrame:
    """Run `spec`, writing hparams.json, metrics.parquet (and masks.npz for IMP) into out_dir,
    and its final weights (weights.safetensors, nnclaims.weights) unless keep_weights is off.

    Training state is checkpointed under out_dir/checkpoint/ (each epoch, each IMP round) and
    resumed from there when the run restarts after a kill; it is removed once the run finished.
    With `replicates` (a directory), seeds this setup already trained are reused from there and
    only the missing ones train (replicates.py); `archive`, a seed archive, fills the store
    first. `inputs`: other runs' files the kind reads, by name (Kind.inputs; `trunk_masks`
    is one)."""
    dev = setup(spec, threads, device)
    kind = kinds.get(spec.kind)
    inputs = {**({"trunk_masks": trunk_masks} if trunk_masks else {}), **(inputs or {})}
    trunk_masks = inputs.get("trunk_masks")
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / paths.RUN_CHECKPOINTS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("run %s: %s", spec.run_id, spec.non_defaults())
    store = _store(spec, replicates, archive, data_path)
    todo = list(spec.seeds) if store is None else store.missing(spec.seeds)
    if store is not None:
        log.info("seeds reused: %s; to train: %s", sorted(set(spec.seeds) - set(todo)), todo)
    df = None
    w_out = _weights_out(out_dir, ckpt_dir, store, keep_weights, spec.run_id)
    if todo:
        job = kinds.Job(
            device=dev,
            ckpt_dir=ckpt_dir,
            arrays=load_data([dataclasses.replace(spec, seeds=tuple(todo))], data_path),
            trunk_masks=None if trunk_masks is None else Path(trunk_masks),
            inputs={k: Path(v) for k, v in inputs.items()},
            mask_seeds=list(spec.seeds),
            searched=None if store is None else store.search(),
            # a stored IMP keeps its masks in the store; the run's own file is assembled below
            masks_out=ckpt_dir / "masks.npz" if store is not None else out_dir / paths.RUN_MASKS,
            weights_out=w_out,
        )
        df, masks = kind.train(dataclasses.replace(spec, seeds=tuple(todo)), job)
        if store is not None:
            _keep(store, spec.run_id, todo, df, masks, data_path, w_out)
    if store is not None:
        df = _assemble(spec, store, out_dir, keep_weights)
    extra = _weights_note(out_dir)
    if store is not None:
        extra["replicates"] = store.meta(spec.seeds)
    extra = {**(extra or {}), "declared": declared(config)}
    _finish(spec, out_dir, df, time.perf_counter() - t0, threads, dev, extra, data_path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return df


def load_data(specs: list[RunSpec], data_path):
    """What runs of one setup (their seeds to train) read: the dataset file's one draw, or with
    `data_draw: seed` the draw of every data seed their kind reads (Kind.data_seeds), with
    label noise drawn per data seed; None for a kind that makes its own data."""
    spec, kind = specs[0], kinds.get(specs[0].kind)
    if not kind.needs_data:
        return None
    if spec.data_draw == "seed":
        seeds = [s for sp in specs for s in kinds.get(sp.kind).data_seeds(sp)]
        arrays = datamod.load_draws(data_path, seeds)
    else:
        arrays = datamod.load_arrays(data_path)
    return datamod.noisy(arrays, spec.label_noise)


def run_batch(
    specs: list[RunSpec],
    out_dirs: list[str | os.PathLike],
    data_path: str | os.PathLike,
    ckpt_dir: str | os.PathLike,
    threads: int = 1,
    device: str = "cpu",
    replicates: str | os.PathLike | None = None,
    keep_weights: bool = True,
    archive: str | os.PathLike | None = None,
    config: dict | None = None,
) -> list[pd.DataFrame]:
    """Several classification runs that differ only in their arm, trained as one stack (one
    process, one lr search); each run's directory is written as if it had run alone, and its
    numbers are the same (a test checks this bitwise). hparams.json names the batch. With
    `replicates`, only seeds not trained before (or archived in `archive`) train (see run)."""
    dev = setup(specs[0], threads, device)
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("batch of %d runs: %s", len(specs), ", ".join(f"{s.run_id} ({s.arm})" for s in specs))
    stores = [_store(sp, replicates, archive, data_path) for sp in specs]
    todo = [list(sp.seeds) if st is None else st.missing(sp.seeds) for sp, st in zip(specs, stores)]
    searched = [None if st is None else st.search() for st in stores]
    need = [i for i, t in enumerate(todo) if t or (specs[i].lr_grid and searched[i] is None)]
    dfs: list[pd.DataFrame | None] = [None] * len(specs)
    w_out = [
        _weights_out(Path(o), ckpt_dir, st, keep_weights, sp.run_id)
        for sp, o, st in zip(specs, out_dirs, stores)
    ]
    if need:
        trained = train_arms(
            [specs[i] for i in need],
            load_data(
                [dataclasses.replace(specs[i], seeds=tuple(todo[i])) for i in need], data_path
            ),
            ckpt_dir,
            seeds_per_spec=[todo[i] for i in need],
            searched=[searched[i] for i in need],
            device=dev,
            weights_out=[w_out[i] for i in need],
        )
        for i, df in zip(need, trained):
            dfs[i] = df
            if stores[i] is not None:
                _keep(stores[i], specs[i].run_id, todo[i], df, None, data_path, w_out[i])
    wall = time.perf_counter() - t0
    batch = [s.run_id for s in specs]
    for i, (spec, out) in enumerate(zip(specs, out_dirs)):
        Path(out).mkdir(parents=True, exist_ok=True)
        if stores[i] is not None:
            dfs[i] = _assemble(spec, stores[i], Path(out), keep_weights)
        extra = {"trained_with": batch, **_weights_note(Path(out))}
        if stores[i] is not None:
            extra["replicates"] = stores[i].meta(spec.seeds)
        extra = {**(extra or {}), "declared": declared(config)}
        _finish(spec, Path(out), dfs[i], wall / len(specs), threads, dev, extra, data_path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return dfs
