"""Pinned downloads of the source papers' datasets (pooch), parsed to plain arrays.

Each dataset is a few files at a canonical URL with a pinned hash (the hashes torchvision and
the dataset pages publish). CIFAR is taken in its *binary* version and read record by record from
the tar stream, so no downloaded byte is ever unpickled or extracted to disk. MNIST and
Fashion-MNIST are IDX files. Images are kept as uint8 (N, C, H, W); `data.load_arrays` scales them.

A mirror base URL replaces the canonical one (files at `<mirror>/<dataset>/<file>`), so a cluster
without internet can point at its own copy. Files live in `<cache_dir>/<dataset>/`; one already
there with the right hash is not fetched again (pooch checks it). pooch downloads to a temporary
file and moves it into place only when its hash matches, so a bad download leaves nothing behind.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tarfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are made: the plan reads REGISTRY without it
    import numpy as np


class DownloadError(RuntimeError):
    """A dataset could not be fetched or parsed; the message names the cause and the fix."""


@dataclass(frozen=True)
class Source:
    base_url: str
    files: dict[str, str]  # file name -> "md5:<hex>" or "sha256:<hex>"
    parse: Callable[[dict[str, Path]], dict[str, np.ndarray]]
    cite: str
    shape: tuple[int, ...]  # one example (C, H, W), for cost estimates before a download
    n_train: int
    n_classes: int


def _idx(path: Path, want_dims: int) -> np.ndarray:
    """An IDX file (gzip): magic 0x0000 08 <ndims>, big-endian dims, uint8 data."""
    import numpy as np

    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DownloadError(f"{path} is not a complete gzip file ({e}): delete it and rerun") from e
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != want_dims:
        raise DownloadError(f"{path} is not an IDX file of {want_dims} dimension(s) of uint8")
    dims = struct.unpack(f">{want_dims}I", raw[4 : 4 + 4 * want_dims])
    body = raw[4 + 4 * want_dims :]
    if len(body) != int(np.prod(dims)):
        raise DownloadError(
            f"{path} is truncated: the header says {int(np.prod(dims))} bytes, "
            f"the file has {len(body)}. Delete it and rerun."
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def parse_idx(files: dict[str, Path]) -> dict[str, np.ndarray]:
    import numpy as np

    x_train = _idx(files["train-images-idx3-ubyte.gz"], 3)
    y_train = _idx(files["train-labels-idx1-ubyte.gz"], 1)
    x_test = _idx(files["t10k-images-idx3-ubyte.gz"], 3)
    y_test = _idx(files["t10k-labels-idx1-ubyte.gz"], 1)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise DownloadError(f"{split}: {len(x)} images but {len(y)} labels")
    return {
        "x_train": x_train[:, None],  # (N, 1, 28, 28)
        "y_train": y_train.astype(np.int64),
        "x_test": x_test[:, None],
        "y_test": y_test.astype(np.int64),
    }


def _cifar_records(raw: bytes, label_bytes: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    rec = label_bytes + 3 * 32 * 32
    if len(raw) == 0 or len(raw) % rec:
        raise DownloadError(f"{name}: {len(raw)} bytes is not a whole number of {rec}-byte records")
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, rec)
    # CIFAR-100 records are <coarse label><fine label><pixels>: the fine label is the class
    return a[:, label_bytes:].reshape(-1, 3, 32, 32), a[:, label_bytes - 1].astype(np.int64)


def _cifar(archive: Path, folder: str, train: list[str], test: str, label_bytes: int):
    import numpy as np

    wanted = {f"{folder}/{m}" for m in [*train, test]}
    parts: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:  # read from the stream; nothing is written to disk
                if member.name in wanted and member.isfile():
                    parts[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DownloadError(
            f"{archive} is truncated or not a tar.gz archive ({e}): delete it and rerun"
        ) from e
    missing = sorted(wanted - set(parts))
    if missing:
        raise DownloadError(f"{archive} lacks {', '.join(missing)}: delete it and rerun")
    xs, ys = zip(*(_cifar_records(parts[f"{folder}/{m}"], label_bytes, m) for m in train))
    x_test, y_test = _cifar_records(parts[f"{folder}/{test}"], label_bytes, test)
    return {
        "x_train": np.concatenate(xs),
        "y_train": np.concatenate(ys),
        "x_test": x_test,
        "y_test": y_test,
    }


def parse_cifar10(files: dict[str, Path]) -> dict[str, np.ndarray]:
    batches = [f"data_batch_{i}.bin" for i in range(1, 6)]
    return _cifar(
        files["cifar-10-binary.tar.gz"], "cifar-10-batches-bin", batches, "test_batch.bin", 1
    )


def parse_cifar100(files: dict[str, Path]) -> dict[str, np.ndarray]:
    return _cifar(
        files["cifar-100-binary.tar.gz"], "cifar-100-binary", ["train.bin"], "test.bin", 2
    )


_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# Hashes: the dataset authors' pages (CIFAR) and torchvision's resource lists (MNIST, Fashion).
REGISTRY: dict[str, Source] = {
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz",
        {"cifar-10-binary.tar.gz": "md5:c32a1d4ab5d03f1284b67883e8d87530"},
        parse_cifar10,
        "Krizhevsky (2009), CIFAR-10, binary version",
        (3, 32, 32),
        50000,
        10,
    ),
    "cifar100": Source(
        "https://www.cs.toronto.edu/~kriz",
        {"cifar-100-binary.tar.gz": "md5:03b5dce01913d631647c71ecec9e9cb8"},
        parse_cifar100,
        "Krizhevsky (2009), CIFAR-100 (fine labels), binary version",
        (3, 32, 32),
        50000,
        100,
    ),
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        dict(
            zip(
                _MNIST_FILES,
                (
                    "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "md5:d53e105ee54ea40749a09fcbcd1e9432",
                    "md5:9fb629c4189551a2d022fa330f9573f3",
                    "md5:ec29112dd5afa0611ce80d1b7f02629c",
                ),
            )
        ),
        parse_idx,
        "LeCun et al. (1998), MNIST (PyTorch's S3 copy of the original IDX files)",
        (1, 28, 28),
        60000,
        10,
    ),
    "fashion_mnist": Source(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        dict(
            zip(
                _MNIST_FILES,
                (
                    "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "md5:25c81989df183df01b3e8a0aad5dffbe",
                    "md5:bef4ecab320f06d8554ea6380940ec79",
                    "md5:bb300cfdad3c16e7a12a480ee83cd310",
                ),
            )
        ),
        parse_idx,
        "Xiao, Rasul & Vollgraf (2017), Fashion-MNIST",
        (1, 28, 28),
        60000,
        10,
    ),
}


def get_source(name: str, registry: dict[str, Source] | None = None) -> Source:
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise DownloadError(
            f"No downloadable dataset {name!r}. Known: {', '.join(sorted(registry))}"
        )
    return registry[name]


def default_cache() -> Path:
    import pooch

    return Path(pooch.os_cache("nnclaims"))


def check_mirror(mirror: str | None) -> None:
    if mirror and not mirror.startswith(("http://", "https://", "file://")):
        raise DownloadError(f"data.mirror must be an http(s):// or file:// URL, got {mirror!r}")


def fetch(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    registry: dict[str, Source] | None = None,
    timeout: float = 60,
) -> dict[str, Path]:
    """Download (or find in the cache) every file of dataset `name`; returns {file: path}."""
    import pooch
    import requests

    src = get_source(name, registry)
    check_mirror(mirror)
    base = f"{mirror.rstrip('/')}/{name}" if mirror else src.base_url
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache()
    folder = folder / name
    out = {}
    for fname, known_hash in src.files.items():
        url = f"{base}/{fname}"
        if url.startswith("file://"):
            out[fname] = _copy_local(url, known_hash, folder / fname)
            continue
        try:
            out[fname] = Path(
                pooch.retrieve(
                    url,
                    known_hash,
                    fname=fname,
                    path=folder,
                    downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False),
                )
            )
        except ValueError as e:  # pooch: hash mismatch; it has already deleted the download
            raise DownloadError(
                f"{url}: the download does not match its pinned hash, so it was removed. {e} "
                "A mirror may hold a different file, or the download was cut short: rerun, "
                "or fix the mirror."
            ) from e
        except requests.exceptions.HTTPError as e:
            raise DownloadError(f"{url}: the server answered {e}. Check data.mirror.") from e
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
            raise DownloadError(
                f"Could not reach {url}: no network? ({type(e).__name__}) "
                "Run on the embedded default (datasets: [mnist1d], or digits), which needs "
                "no download, or set data.mirror in the config to a server that holds "
                f"<mirror>/{name}/{fname}."
            ) from e
    return out


def _copy_local(url: str, known_hash: str, dest: Path) -> Path:
    """A file:// mirror (a shared file system on a cluster): checked against the pinned hash,
    then copied into the cache like a download. pooch has no downloader for file://."""
    import pooch

    from nnclaims.core.files import atomic_path

    src = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    if not src.is_file():
        raise DownloadError(
            f"{url}: no such file {src}. A file:// mirror must hold <mirror>/<dataset>/<file>; "
            "fix data.mirror or copy the file there."
        )
    alg, _, want = known_hash.partition(":")
    if dest.is_file() and pooch.file_hash(str(dest), alg=alg) == want:
        return dest
    got = pooch.file_hash(str(src), alg=alg)
    if got != want:
        raise DownloadError(
            f"{src}: {alg} {got} does not match the pinned {want}. The mirror holds a different "
            "or damaged file: replace it with the original."
        )
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return dest


def load(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    registry: dict[str, Source] | None = None,
) -> dict[str, np.ndarray]:
    """Fetch and parse dataset `name` to x_train, y_train, x_test, y_test arrays."""
    src = get_source(name, registry)
    return src.parse(fetch(name, cache_dir, mirror, registry))
