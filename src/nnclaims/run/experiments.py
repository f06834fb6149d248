"""Run one RunSpec (or a batch of them) and write its run directory: metrics.parquet (the tidy
table, nnclaims.train.tidy), hparams.json (what was measured: the lr used, the device,
provenance) and masks.npz for IMP.

How a run trains is its kind's business (nnclaims.kinds: one module per kind); this module sets
up the process (threads, determinism, device), reuses seeds stored by earlier runs of the same
setup (nnclaims.run.replicates), checkpoints, and writes the directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from nnclaims import kinds
from nnclaims.core import paths, seeding
from nnclaims.core.files import write_run_files
from nnclaims.core.hparams import RunSpec
from nnclaims.core.provenance import declared, stamp
from nnclaims.data import datasets as datamod
from nnclaims.kinds.classify import run_classify, train_arms  # noqa: F401 (entry points, re-exported)
from nnclaims.kinds.common import search_score, validation_split  # noqa: F401
from nnclaims.kinds.control import load_masks, run_control  # noqa: F401
from nnclaims.kinds.imp import run_imp, ticket  # noqa: F401
from nnclaims.kinds.search import candidate_sets, run_search, set_name  # noqa: F401
from nnclaims.kinds.spectral import run_spectral  # noqa: F401
from nnclaims.run import replicates as replicate_store
from nnclaims.train.engine import resolve_device

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


def _draws_record(spec: RunSpec, data_path) -> dict:
    """Which data each seed was tested on: the file's one draw, or each data seed's own draw
    (the sha256 of its file, where it was made)."""
    if spec.data_draw != "seed" or data_path is None:
        return {"data_draw": "fixed"}
    seeds = dict.fromkeys(kinds.get(spec.kind).data_seeds(spec))
    files = {s: datamod.draw_file(data_path, s) for s in seeds}
    sha = replicate_store.file_sha256
    return {"data_draw": "seed", "draw_sha256": {str(s): sha(f) for s, f in files.items()
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
        "data_sha256": replicate_store.file_sha256(data_path),
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
    and its final weights (weights.safetensors, nnclaims.train.weights) unless keep_weights is off.

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
    reuse = replicate_store.prepare(
        spec, replicates, archive, data_path, out_dir, ckpt_dir, keep_weights
    )
    df = masks = None
    if reuse.todo:
        job = kinds.Job(
            device=dev,
            ckpt_dir=ckpt_dir,
            arrays=load_data([reuse.to_train], data_path),
            trunk_masks=None if trunk_masks is None else Path(trunk_masks),
            inputs={k: Path(v) for k, v in inputs.items()},
            mask_seeds=list(spec.seeds),
            searched=reuse.searched,
            # a stored IMP keeps its masks in the store; the run's own file is assembled below
            masks_out=ckpt_dir / "masks.npz" if reuse.store else out_dir / paths.RUN_MASKS,
            weights_out=reuse.weights_out,
        )
        df, masks = kind.train(reuse.to_train, job)
    df, extra = reuse.finish(df, masks)
    extra = {**extra, "declared": declared(config)}
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
    reuses = [
        replicate_store.prepare(sp, replicates, archive, data_path, Path(o), ckpt_dir, keep_weights)
        for sp, o in zip(specs, out_dirs)
    ]
    # an arm trains when it has seeds to train, or its lr search is not stored yet
    need = [i for i, r in enumerate(reuses) if r.todo or (specs[i].lr_grid and r.searched is None)]
    dfs: list[pd.DataFrame | None] = [None] * len(specs)
    if need:
        trained = train_arms(
            [specs[i] for i in need],
            load_data([reuses[i].to_train for i in need], data_path),
            ckpt_dir,
            seeds_per_spec=[reuses[i].todo for i in need],
            searched=[reuses[i].searched for i in need],
            device=dev,
            weights_out=[reuses[i].weights_out for i in need],
        )
        for i, df in zip(need, trained):
            dfs[i] = df
    wall = time.perf_counter() - t0
    batch = [s.run_id for s in specs]
    for i, (spec, out) in enumerate(zip(specs, out_dirs)):
        Path(out).mkdir(parents=True, exist_ok=True)
        dfs[i], extra = reuses[i].finish(dfs[i], None, {"trained_with": batch})
        extra = {**extra, "declared": declared(config)}
        _finish(spec, Path(out), dfs[i], wall / len(specs), threads, dev, extra, data_path)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return dfs


def train_missing(cfg: dict, plan, ids: list[str], threads: int = 1) -> None:
    """Train the runs of `ids` not finished yet, their datasets first (the CLI's `run-claim`:
    what the workflow's data and train jobs do, in one process)."""
    data_cfg = cfg.get("data", {})
    for ds in {plan.runs[r].dataset for r in ids} - {"sines"}:
        if not paths.dataset_file(ds).exists():  # the config's cache and mirror, as the workflow
            datamod.prepare(
                ds,
                paths.dataset_file(ds),
                cache_dir=data_cfg.get("cache_dir"),
                mirror=data_cfg.get("mirror"),
            )
    # runs that read another run's files (an IMP control: its trunk's masks) after the others
    todo = sorted(ids, key=lambda r: bool(kinds.get(plan.runs[r].kind).inputs(plan.runs[r])))
    for rid in todo:
        spec = plan.runs[rid]
        if paths.run_metrics(rid).exists():
            log.info("run %s already finished: kept", rid)
            continue
        run(
            spec,
            paths.run_dir(rid),
            data_path=paths.dataset_file(spec.dataset),
            inputs={
                name: paths.run_file(what, r)
                for name, (what, r) in kinds.get(spec.kind).inputs(spec).items()
            },
            threads=threads,
            device=cfg.get("device", "cpu"),
            replicates=paths.REPLICATES,
            keep_weights=cfg.get("keep_weights", True),
            archive=replicate_store.archive_for(cfg, spec.kind),
            config=cfg,
        )
