"""Datasets as plain arrays (.npz: x_train, y_train, x_test, y_test), never pickles.

`mnist1d` (Greydanus & Kobak 2024) is generated from code by the `mnist1d` package with its
published arguments (4000 train / 1000 test, length 40, seed 42): no download, ~3 s.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .engine import Arrays
from .io import atomic_path

KEYS = ("x_train", "y_train", "x_test", "y_test")


def make_mnist1d() -> dict[str, np.ndarray]:
    # Imported here: mnist1d pulls in matplotlib and takes ~3 s to import.
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())  # generated locally; get_dataset() would download
    return {
        "x_train": d["x"].astype(np.float32),
        "y_train": d["y"].astype(np.int64),
        "x_test": d["x_test"].astype(np.float32),
        "y_test": d["y_test"].astype(np.int64),
    }


DATASETS: dict[str, Callable[[], dict[str, np.ndarray]]] = {"mnist1d": make_mnist1d}


def get_maker(name: str) -> Callable[[], dict[str, np.ndarray]]:
    if name not in DATASETS:
        raise ValueError(f"No such dataset: {name!r}. Known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' dtypes, shapes and bytes, in KEYS order."""
    h = hashlib.sha256()
    for k in KEYS:
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def prepare(name: str, out: str | os.PathLike) -> str:
    """Make dataset `name` and save it to `out` (.npz); returns its checksum."""
    arrays = get_maker(name)()
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return checksum(arrays)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Dataset file {path} is missing: run `snakemake {path}` first")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in KEYS if k not in z.files]
        if missing:
            raise ValueError(f"Dataset file {path} lacks arrays {missing}: delete it and rerun")
        return {k: z[k] for k in KEYS}


def load_arrays(path: str | os.PathLike, dtype=torch.float32) -> Arrays:
    a = load_npz(path)
    return Arrays(
        torch.as_tensor(a["x_train"], dtype=dtype),
        torch.as_tensor(a["y_train"]),
        torch.as_tensor(a["x_test"], dtype=dtype),
        torch.as_tensor(a["y_test"]),
    )
