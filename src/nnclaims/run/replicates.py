"""Seeds as replicates (as in OpenLTH): each seed of a run setup is trained once and reused.

A run's setup without its seeds (and without the IMP trunk's id, which only names the same
setup) is keyed by a hash; under results/replicates/<kind>_<key>/ each finished seed keeps its
rows (`seed_<s>.parquet`), the code that made it (`seed_<s>.json`), its final weights
(`seed_<s>.safetensors`) and, for IMP, its masks (`seed_<s>.masks.npz`); the setup's lr or set
search keeps its validation rows (`search.parquet`).
A run asking for seeds 0..5 after 0..4 were trained trains seed 5 alone and assembles the rest;
asking for fewer reuses a subset. This is exact because a model's numbers do not depend on the
models it is stacked with (tests/test_invariance.py), so reuse is limited to the stacked models
(vision models draw dropout from one shared generator).

A seed archive (config `seed_archive`) is a read-only store of the same layout kept with the
repository, for setups too costly to train in the default run (the MNIST-1D lottery experiment:
about an hour of a core); config `seed_archive_kinds` narrows it to some kinds (`archive_for`).
`import_archived` copies a setup's archived seeds into the store before
training, but only seeds made from the same data file (their recorded sha256) by the kind's
current rows version; anything else trains as usual. Each copied seed's record says where it came
from (`archived_from`), beside the commit that trained it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnclaims import kinds
from nnclaims.core import paths
from nnclaims.core.files import (
    ARCHIVE_INDEX,
    archived_file_problem,
    atomic_path,
    read_archive_index,
    read_npz,
    write_json,
    write_parquet,
)
from nnclaims.core.hparams import RunSpec
from nnclaims.core.provenance import git_state
from nnclaims.train import weights
from nnclaims.train.tidy import COLUMNS

log = logging.getLogger(__name__)

SEED_FREE = ("seeds", "trunk")
REUSABLE_MODELS = ("mlp", "mlp_res", "cnn")


def key(spec: RunSpec) -> str:
    d = {k: v for k, v in spec.non_defaults().items() if k not in SEED_FREE}
    canon = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return f"{spec.kind}_{hashlib.sha256(canon.encode()).hexdigest()[:12]}"


def reusable(spec: RunSpec) -> bool:
    kind = kinds.get(spec.kind)
    return kind.replicable and (not kind.needs_data or spec.model in REUSABLE_MODELS)


class Store:
    """One setup's finished seeds."""

    def __init__(self, root: str | os.PathLike, spec: RunSpec):
        self.spec = spec
        self.dir = Path(root) / key(spec)
        self.version = kinds.get(spec.kind).rows_version

    def _f(self, seed: int, ext: str) -> Path:
        return self.dir / f"seed_{seed}.{ext}"

    def has(self, seed: int) -> bool:
        # the .json is written last: its presence means the seed is complete; a seed stored
        # by an older version of its kind's rows (Kind.rows_version) trains again
        if not (self._f(seed, "json").exists() and self._f(seed, "parquet").exists()):
            return False
        if self.version == 1:
            return True
        return json.loads(self._f(seed, "json").read_text()).get("rows_version", 1) >= self.version

    def missing(self, seeds) -> list[int]:
        return [s for s in seeds if not self.has(s)]

    def save(self, df: pd.DataFrame, seeds: list[int], meta: dict, masks=None) -> None:
        """Rows of freshly trained seeds (one file per seed); `masks` arrays have the model axis
        first, in the order of `seeds`."""
        for k, s in enumerate(seeds):
            write_parquet(df[df["seed"] == s].reset_index(drop=True), self._f(s, "parquet"))
            if masks is not None:
                with atomic_path(self._f(s, "masks.npz")) as tmp, open(tmp, "wb") as f:
                    np.savez_compressed(f, **{n: a[k : k + 1] for n, a in masks.items()})
            meta_s = {**meta, "seed": s}
            if self.version > 1:
                meta_s["rows_version"] = self.version
            write_json(meta_s, self._f(s, "json"))

    def rows(self, seeds) -> pd.DataFrame:
        return pd.concat([pd.read_parquet(self._f(s, "parquet")) for s in seeds], ignore_index=True)

    def masks(self, seeds) -> dict[str, np.ndarray]:
        parts = []
        for s in seeds:
            parts.append(read_npz(self._f(s, "masks.npz")))
        return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}

    def meta(self, seeds) -> dict[str, dict]:
        return {str(s): json.loads(self._f(s, "json").read_text()) for s in seeds}

    def save_weights(self, state: dict, models: list[dict], run_id: str) -> None:
        """Freshly trained models' final weights, one file per seed (nnclaims.train.weights)."""
        for s in sorted({m["seed"] for m in models}):
            keep = [i for i, m in enumerate(models) if m["seed"] == s]
            weights.save(self._f(s, "safetensors"), *weights.select(state, models, keep), run_id)

    def weights(self, seeds):
        """(state, models) of `seeds` in order, or None when a seed has no stored weights."""
        files = [self._f(s, "safetensors") for s in seeds]
        if not all(f.exists() for f in files):
            return None
        return weights.concat([weights.read(f) for f in files])

    def search(self) -> pd.DataFrame | None:
        f = self.dir / "search.parquet"
        return pd.read_parquet(f) if f.exists() else None

    def save_search(self, df: pd.DataFrame) -> None:
        write_parquet(df.reset_index(drop=True), self.dir / "search.parquet")

    def remove(self, seed: int) -> None:
        for ext in ("json", "parquet", "masks.npz", "safetensors"):
            self._f(seed, ext).unlink(missing_ok=True)


def _copy_seed(src: Store, dst: Store, seed: int, exts, record: dict | None = None) -> None:
    """One seed's files `exts` that exist, then its record (`record`, else src's) last, as
    Store.save writes it: an interrupted copy leaves the seed missing, not half there."""
    for ext in exts:
        if src._f(seed, ext).exists():
            with atomic_path(dst._f(seed, ext)) as tmp:
                shutil.copyfile(src._f(seed, ext), tmp)
    if record is None:
        with atomic_path(dst._f(seed, "json")) as tmp:
            shutil.copyfile(src._f(seed, "json"), tmp)
    else:
        write_json(record, dst._f(seed, "json"))


def verify(archive: str | os.PathLike, files: list[Path]) -> None:
    """Raise ValueError naming the first archived file that is not as it was archived."""
    problem = archived_file_problem(archive, files)
    if problem:
        raise ValueError(problem)


def index_folder(archive: str | os.PathLike, folder: Path) -> None:
    """Record every file of one archive folder, as it is now, in the archive's index (lines of
    other folders kept): a later edit of one of them is refused when it would be copied."""
    index = read_archive_index(archive)
    index = {n: d for n, d in index.items() if not n.startswith(f"{folder.name}/")}
    for f in sorted(folder.iterdir()):
        index[f"{folder.name}/{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    lines = [f"{digest}  {name}" for name, digest in sorted(index.items())]
    with atomic_path(Path(archive) / ARCHIVE_INDEX) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def archive_for(cfg: dict, kind: str) -> str | None:
    """The seed archive that a run of `kind` copies its seeds from under config `cfg`:
    `seed_archive`, or None (train them) where `seed_archive_kinds` is set and leaves the kind
    out. Either way no number changes: a copied seed is what training makes
    (tests/test_archive.py)."""
    only = cfg.get("seed_archive_kinds")
    return cfg.get("seed_archive") if only is None or kind in only else None


def import_archived(store: Store, archive: str | os.PathLike, seeds, data_sha256: str | None):
    """Copy the seeds `store` lacks from `archive`/<key>/ where they were made from the same data
    (sha256) by the kind's current rows version, their records marked `archived_from`; returns
    the seeds copied."""
    src = Store(archive, store.spec)
    copied, stale = [], []
    for s in store.missing(seeds):
        if not src.has(s):
            continue
        exts = ("json", "parquet", "masks.npz", "safetensors")
        verify(archive, [src._f(s, e) for e in exts if src._f(s, e).exists()])
        meta = json.loads(src._f(s, "json").read_text())
        if data_sha256 is None or meta.get("data_sha256") != data_sha256:
            stale.append(s)
            continue
        meta["archived_from"] = str(src.dir)
        _copy_seed(src, store, s, ("parquet", "masks.npz", "safetensors"), record=meta)
        copied.append(s)
    if copied and store.search() is None and src.search() is not None:
        verify(archive, [src.dir / "search.parquet"])
        store.save_search(src.search())
    if stale:
        log.warning(
            "seed archive %s: seeds %s were made from other data than %s; they train again",
            src.dir, stale, data_sha256,
        )  # fmt: skip
    if copied:
        log.info("seeds %s copied from the seed archive %s", copied, src.dir)
    return copied


def archive_seeds(store: Store, archive: str | os.PathLike, seeds, weights: bool = False) -> Path:
    """Copy a setup's finished seeds from `store` into the seed archive (rows, records, IMP masks,
    the lr search's rows; weights only when asked: they are large). Every seed must be stored
    and trained from a clean tree, so that its record names the commit that made it."""
    missing = store.missing(seeds)
    if missing:
        raise ValueError(
            f"{store.dir} lacks seeds {missing}: train them first (snakemake with the config "
            "that plans this run, seed_archive: null)"
        )
    dirty = [s for s in seeds if json.loads(store._f(s, "json").read_text())["git"].get("dirty")]
    if dirty:
        raise ValueError(
            f"seeds {dirty} in {store.dir} were trained with uncommitted changes: commit, "
            "train them again, then archive"
        )
    dst = Store(archive, store.spec)
    exts = ("parquet", "masks.npz") + (("safetensors",) if weights else ())
    for s in seeds:
        _copy_seed(store, dst, s, exts)
    if store.search() is not None:
        dst.save_search(store.search())
    index_folder(archive, dst.dir)
    return dst.dir


def file_sha256(path) -> str | None:
    if path is None or not Path(path).exists():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Reuse:
    """What one run takes from its setup's store and what it trains (`prepare`), then its rows
    from both (`finish`). Without a store (no replicates folder, or a kind whose seeds are not
    stored) every seed trains and `finish` passes the trained rows through."""

    spec: RunSpec
    store: Store | None
    todo: list[int]  # the seeds that train
    out_dir: Path
    weights_out: Path | None  # where the kind writes the trained models' weights
    keep_weights: bool
    data_path: str | os.PathLike | None

    @property
    def to_train(self) -> RunSpec:
        return dataclasses.replace(self.spec, seeds=tuple(self.todo))

    @property
    def searched(self) -> pd.DataFrame | None:
        """The setup's stored lr or set search (None: not stored, or no store)."""
        return None if self.store is None else self.store.search()

    def finish(self, df: pd.DataFrame | None, masks, extra: dict | None = None):
        """Store the seeds just trained (rows `df`, IMP `masks`, the weights the kind wrote) and
        the setup's search, once; then the run's rows (and masks and weights files) assembled
        from the store. Returns the rows and what hparams.json says of the weights and seeds."""
        extra = dict(extra or {})
        if self.store is not None:
            if self.todo:
                self._keep(df, masks)
            df = self._assemble()
        f = self.out_dir / paths.RUN_WEIGHTS
        extra["weights"] = paths.RUN_WEIGHTS if f.exists() else None
        if self.store is not None:
            extra["replicates"] = self.store.meta(self.spec.seeds)
        return df, extra

    def _keep(self, df: pd.DataFrame, masks) -> None:
        store, run_id = self.store, self.spec.run_id
        if self.weights_out is not None and Path(self.weights_out).exists():
            store.save_weights(*weights.read(self.weights_out), run_id)
        val = df["split"] == "val"
        if val.any() and store.search() is None:
            store.save_search(df[val])
        meta = {
            "trained_in": run_id,
            "git": git_state(),
            "data_sha256": file_sha256(self.data_path),
        }
        store.save(df[~val], self.todo, meta, masks)

    def _assemble(self) -> pd.DataFrame:
        spec, store, out_dir = self.spec, self.store, self.out_dir
        searched = store.search()
        df = store.rows(spec.seeds)
        if searched is not None:
            df = pd.concat([searched, df], ignore_index=True)
        if "masks" in kinds.get(spec.kind).outputs:
            with atomic_path(out_dir / paths.RUN_MASKS) as tmp, open(tmp, "wb") as f:
                np.savez_compressed(f, **store.masks(spec.seeds))
        stored = store.weights(spec.seeds) if self.keep_weights else None
        if stored is not None:
            weights.save(out_dir / paths.RUN_WEIGHTS, *stored, spec.run_id)
        elif self.keep_weights and all(
            "archived_from" in m for m in store.meta(spec.seeds).values()
        ):
            log.info("run %s: seeds from the seed archive keep no weights", spec.run_id)
        elif self.keep_weights:  # seeds stored before weights were kept: the rows stay valid
            log.warning("run %s: some stored seeds have no weights; none kept", spec.run_id)
        return df[COLUMNS]


def prepare(
    spec: RunSpec,
    root: str | os.PathLike | None,
    archive: str | os.PathLike | None,
    data_path: str | os.PathLike | None,
    out_dir: Path,
    tmp_dir: Path,
    keep_weights: bool,
) -> Reuse:
    """Before a run trains: its setup's store under `root` (None: no reuse), with the seeds of
    the seed archive copied in, and the seeds it still has to train. A stale weights file in
    the run directory is removed first (never old weights beside new rows); the kind writes new
    ones to the run directory, or beside the checkpoints when the store merges them with the
    stored seeds'."""
    store = None
    if root is not None and reusable(spec):
        store = Store(root, spec)
        if archive is not None:
            import_archived(store, archive, spec.seeds, file_sha256(data_path))
    todo = list(spec.seeds) if store is None else store.missing(spec.seeds)
    if store is not None:
        log.info("seeds reused: %s; to train: %s", sorted(set(spec.seeds) - set(todo)), todo)
    (out_dir / paths.RUN_WEIGHTS).unlink(missing_ok=True)
    w_out = None
    if keep_weights:
        w_out = (
            out_dir / paths.RUN_WEIGHTS if store is None else tmp_dir / f"{spec.run_id}.safetensors"
        )
    return Reuse(spec, store, todo, out_dir, w_out, keep_weights, data_path)
