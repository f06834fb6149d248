"""Datasets as plain arrays (.npz: x_train, y_train, x_test, y_test), never pickles.

Embedded (no download):
- `mnist1d` (Greydanus & Kobak 2024) is generated from code by the `mnist1d` package with its
  published arguments (4000 train / 1000 test, length 40, seed 42): ~3 s.
- `digits` is scikit-learn's bundled 8×8 digits (UCI optdigits test set, 1797 images), split
  1437 / 360 by a fixed permutation, pixels scaled from 0..16 to [0, 1].
Per-seed draws: each run seed of an embedded dataset trains and is tested on its own draw
(`draw`): MNIST-1D generated anew by the package's generator with the published arguments and
the seed's own generator seed; digits split anew (stratified, 1437 / 360) from its 1797 images.
The dataset file above is the published draw (MNIST-1D seed 42), used by runs that replicate a
source's own recipe on it (`data_draw: fixed`).
Downloaded (nnclaims.data.downloads, pinned hashes): cifar10, cifar100, mnist, fashion_mnist, kept
as uint8 images (N, C, H, W) and standardised per channel with training-set statistics on load.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nnclaims.core import catalog
from nnclaims.core.files import atomic_path, read_npz
from nnclaims.data.arrays import Arrays, Draws, PerModel, linear_toy  # noqa: F401 (read here too)

if TYPE_CHECKING:  # generating and drawing data needs no torch (~1.5 s of a data job's start)
    import torch

KEYS = ("x_train", "y_train", "x_test", "y_test")


class BadData(ValueError):
    """A dataset file whose arrays cannot be a classification dataset."""


def n_classes(name: str) -> int | None:
    """The class count a dataset is published with (None: a name nnclaims does not know)."""
    if name in catalog.EMBEDDED_SHAPES:
        return catalog.EMBEDDED_SHAPES[name][2]
    from nnclaims.data.downloads import REGISTRY

    return REGISTRY[name].n_classes if name in REGISTRY else None


def check_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Raise BadData naming `path` unless its arrays are a dataset every run can train on: 1-D
    integer labels in [0, classes) as many as examples, the same example shape in train and test,
    and finite features. A bad label would silently change the class count, and a NaN feature
    makes every model diverge."""
    where = f"Dataset file {path}"
    fix = "delete it and rerun to make it again, or fix the source it came from"
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise BadData(f"{where}: y_{part} must be 1-D integer labels, got {y.dtype} with "
                          f"shape {y.shape}; {fix}")  # fmt: skip
        if x.ndim < 2 or x.shape[0] != y.shape[0] or not len(y):
            raise BadData(f"{where}: x_{part} has shape {x.shape} for {len(y)} labels in "
                          f"y_{part}; {fix}")  # fmt: skip
        if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.uint8):
            raise BadData(f"{where}: x_{part} is {x.dtype}; features are float or uint8; {fix}")
        bad = int(np.size(x) - np.isfinite(x).sum()) if x.dtype != np.uint8 else 0
        if bad:
            raise BadData(f"{where}: x_{part} holds {bad} NaN or infinite values; {fix}")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise BadData(
            f"{where}: examples of x_train have shape {arrays['x_train'].shape[1:]}, of x_test "
            f"{arrays['x_test'].shape[1:]}; {fix}"
        )
    name = Path(path).stem  # a draw (mnist1d/draw_3.npz) has its dataset's classes
    classes = n_classes(Path(path).parent.name if name.startswith("draw_") else name)
    for k in ("y_train", "y_test"):
        lo, hi = int(arrays[k].min()), int(arrays[k].max())
        if lo < 0 or (classes is not None and hi >= classes):
            top = classes if classes is not None else "classes"
            raise BadData(f"{where}: {k} holds label {lo if lo < 0 else hi}, outside [0, {top}) "
                          f"of {name}; {fix}")  # fmt: skip


def make_mnist1d(seed: int | None = None) -> dict[str, np.ndarray]:
    """The published draw (the package's seed 42), or the draw of generator seed `seed`."""
    # Imported here: mnist1d pulls in matplotlib and takes ~3 s to import.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    if seed is not None:
        args.seed = seed
    # the package seeds numpy's global generator: keep the caller's state as it was
    state = np.random.get_state()
    try:
        d = make_dataset(args)  # generated locally; get_dataset() would download
    finally:
        np.random.set_state(state)
    return {
        "x_train": d["x"].astype(np.float32),
        "y_train": d["y"].astype(np.int64),
        "x_test": d["x_test"].astype(np.float32),
        "y_test": d["y_test"].astype(np.int64),
    }


DIGITS_TEST = 360  # 1437 / 360: 80 % train


def make_digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    d = load_digits()
    perm = np.random.default_rng(42).permutation(len(d.target))
    x = (d.data[perm] / 16.0).astype(np.float32)
    y = d.target[perm].astype(np.int64)
    n_train = len(y) - DIGITS_TEST
    return {
        "x_train": x[:n_train],
        "y_train": y[:n_train],
        "x_test": x[n_train:],
        "y_test": y[n_train:],
    }


def draw_seed(seed: int) -> int:
    """The generator seed of run seed `seed`'s data draw (its own stream, "data"; 32 bits, as
    numpy's legacy seeding, which the mnist1d package uses, takes)."""
    from nnclaims.core import seeding

    return seeding.derive_seed(seed, "data") % 2**32


def _draw_mnist1d(seed: int) -> dict[str, np.ndarray]:
    return make_mnist1d(draw_seed(seed))


def _draw_digits(seed: int) -> dict[str, np.ndarray]:
    """The 1797 images (scikit-learn's order) split anew, stratified by class, 1437 / 360 as the
    published split; test sets of different seeds overlap (their t-tests are corrected)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=DIGITS_TEST, stratify=y, random_state=draw_seed(seed)
    )
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}


# Datasets whose every run seed gets a draw of its own, and whether the draws' test sets are
# independent (generated) or overlap (resplit from one pool: Nadeau & Bengio's corrected t)
DRAWS: dict[str, Callable[[int], dict[str, np.ndarray]]] = {
    "mnist1d": _draw_mnist1d,
    "digits": _draw_digits,
}
RESAMPLED = {"digits"}


def can_draw(name: str) -> bool:
    return name in DRAWS


DATASETS: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    "mnist1d": make_mnist1d,
    "digits": make_digits,
}
catalog.agree("nnclaims.data.datasets", DATASETS, catalog.EMBEDDED_DATASETS)
catalog.agree("nnclaims.data.datasets draws", DRAWS, catalog.DRAWABLE)


def known() -> list[str]:
    from nnclaims.data.downloads import REGISTRY

    return sorted([*DATASETS, *REGISTRY])


def get_maker(name: str) -> Callable[[], dict[str, np.ndarray]]:
    if name not in DATASETS:
        raise ValueError(f"No such dataset: {name!r}. Known: {', '.join(known())}")
    return DATASETS[name]


def is_embedded(name: str) -> bool:
    return name in DATASETS


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' dtypes, shapes and bytes, in KEYS order."""
    h = hashlib.sha256()
    for k in KEYS:
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def prepare(
    name: str,
    out: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
) -> str:
    """Make (embedded) or download dataset `name` and save it to `out` (.npz); returns its
    checksum. Nothing is written to `out` unless the whole dataset parsed."""
    if is_embedded(name):
        arrays = get_maker(name)()
    else:
        from nnclaims.data import downloads

        if name not in downloads.REGISTRY:
            raise ValueError(f"No such dataset: {name!r}. Known: {', '.join(known())}")
        arrays = downloads.load(name, cache_dir, mirror)
    check_arrays(arrays, out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return checksum(arrays)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Dataset file {path} is missing: run `snakemake {path}` first")
    z = read_npz(path)
    missing = [k for k in KEYS if k not in z]
    if missing:
        raise BadData(f"Dataset file {path} lacks arrays {missing}: delete it and rerun")
    arrays = {k: z[k] for k in KEYS}
    check_arrays(arrays, path)
    return arrays


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, C, H, W) → float32, per-channel zero mean and unit SD on the train set."""
    xtr = x_train.astype(np.float32) / 255
    xte = x_test.astype(np.float32) / 255
    axes = (0, 2, 3)
    mean = xtr.mean(axis=axes, keepdims=True)
    std = xtr.std(axis=axes, keepdims=True) + 1e-8
    return (xtr - mean) / std, (xte - mean) / std


def load_arrays(path: str | os.PathLike, dtype: torch.dtype | None = None) -> Arrays:
    """A dataset file as tensors (inputs float32 unless `dtype`; uint8 images standardised)."""
    import torch

    dtype = dtype or torch.float32
    a = load_npz(path)
    x_train, x_test = a["x_train"], a["x_test"]
    if x_train.dtype == np.uint8:
        x_train, x_test = standardise(x_train, x_test)
    return Arrays(
        torch.as_tensor(x_train, dtype=dtype),
        torch.as_tensor(a["y_train"]),
        torch.as_tensor(x_test, dtype=dtype),
        torch.as_tensor(a["y_test"]),
    )


def noisy(arrays: Arrays | Draws, share: float, seed: int = 0) -> Arrays | Draws:
    """The training labels with `share` of them replaced by a uniform draw over the classes (a
    draw may repeat the true label), as the MNIST-1D double-descent notebook does; stream
    "label_noise" of the data seed (per-seed draws: each its own; a fixed draw: seed 0's, the
    same for every seed), shared by every arm of a seed. Test untouched."""
    if not share:
        return arrays
    if isinstance(arrays, Draws):
        return arrays.map(lambda s, a: noisy(a, share, s))
    import torch

    from nnclaims.core import seeding

    g = seeding.generator(seed, "label_noise")
    n = arrays.y_train.shape[0]
    hit = torch.rand(n, generator=g) < share
    draw = torch.randint(0, arrays.n_classes, (n,), generator=g)
    y = torch.where(hit, draw, arrays.y_train)
    return Arrays(arrays.x_train, y, arrays.x_test, arrays.y_test, arrays.x_val, arrays.y_val)


def draw_file(data_path: str | os.PathLike, seed: int) -> Path:
    """Where data seed `seed`'s draw of the dataset in `data_path` is kept: beside it, in a
    folder of the dataset's name (results/data/mnist1d/draw_3.npz)."""
    p = Path(data_path)
    return p.parent / p.stem / f"draw_{seed}.npz"


def make_draw(name: str, seed: int, out: str | os.PathLike) -> str:
    """Make data seed `seed`'s draw of embedded dataset `name` into `out`; returns its checksum."""
    if name not in DRAWS:
        raise ValueError(f"Dataset {name!r} has no per-seed draws; those that do: {sorted(DRAWS)}")
    arrays = DRAWS[name](seed)
    check_arrays(arrays, out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return checksum(arrays)


def load_draws(data_path: str | os.PathLike, seeds, dtype: torch.dtype | None = None) -> Draws:
    """The draws of data seeds `seeds` of the dataset in `data_path`, each from its file
    (draw_file), made there first where it is missing (a library call outside the workflow)."""
    name = Path(data_path).stem
    out = {}
    for s in dict.fromkeys(int(x) for x in seeds):
        f = draw_file(data_path, s)
        if not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True)
            make_draw(name, s, f)
        out[s] = load_arrays(f, dtype)
    return Draws(out, name)


# END
