"""Downloads against a real HTTP server on loopback, serving small archives in the real formats.

The library tests pin the hashes of the served files (a registry like the real one); the
Snakemake test uses the real registry, whose canonical hashes the test files cannot match, so the
real rule must refuse them with the hash message and leave nothing behind.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import socket
import struct
import subprocess
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from nnclaims.data import datasets as data
from nnclaims.data import downloads

RNG = np.random.default_rng(0)


def _idx(a: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return gzip.compress(head + a.astype(np.uint8).tobytes())


def _cifar_bin(n: int, label_bytes: int, classes: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    x = RNG.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = RNG.integers(0, classes, size=n, dtype=np.uint8)
    labels = [RNG.integers(0, 20, size=n, dtype=np.uint8), y] if label_bytes == 2 else [y]
    recs = np.concatenate([np.stack(labels, 1), x.reshape(n, -1)], axis=1)
    return recs.tobytes(), x, y.astype(np.int64)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def make_files() -> tuple[dict[str, dict[str, bytes]], dict[str, dict[str, np.ndarray]]]:
    """{dataset: {file: bytes}} in the real formats, and the arrays they hold."""
    files, truth = {}, {}
    members, xs, ys = {}, [], []
    for i in range(1, 6):
        blob, x, y = _cifar_bin(3, 1, 10)
        members[f"cifar-10-batches-bin/data_batch_{i}.bin"] = blob
        xs.append(x)
        ys.append(y)
    blob, xt, yt = _cifar_bin(4, 1, 10)
    members["cifar-10-batches-bin/test_batch.bin"] = blob
    files["cifar10"] = {"cifar-10-binary.tar.gz": _tar_gz(members)}
    truth["cifar10"] = {
        "x_train": np.concatenate(xs),
        "y_train": np.concatenate(ys),
        "x_test": xt,
        "y_test": yt,
    }
    tr, x, y = _cifar_bin(6, 2, 100)
    te, xt, yt = _cifar_bin(2, 2, 100)
    files["cifar100"] = {
        "cifar-100-binary.tar.gz": _tar_gz(
            {"cifar-100-binary/train.bin": tr, "cifar-100-binary/test.bin": te}
        )
    }
    truth["cifar100"] = {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}
    x = RNG.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    y = RNG.integers(0, 10, size=7, dtype=np.uint8)
    xt = RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    yt = RNG.integers(0, 10, size=3, dtype=np.uint8)
    files["mnist"] = {
        "train-images-idx3-ubyte.gz": _idx(x),
        "train-labels-idx1-ubyte.gz": _idx(y),
        "t10k-images-idx3-ubyte.gz": _idx(xt),
        "t10k-labels-idx1-ubyte.gz": _idx(yt),
    }
    truth["mnist"] = {
        "x_train": x[:, None],
        "y_train": y.astype(np.int64),
        "x_test": xt[:, None],
        "y_test": yt.astype(np.int64),
    }
    return files, truth


class _Server:
    """http.server on 127.0.0.1, serving `root`; counts GET requests per path."""

    def __init__(self, root: Path):
        self.hits: dict[str, int] = {}
        hits = self.hits

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):  # noqa: N802 (http.server's name)
                hits[self.path] = hits.get(self.path, 0) + 1
                super().do_GET()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def mirror(tmp_path):
    files, truth = make_files()
    root = tmp_path / "mirror"
    for ds, fs in files.items():
        (root / ds).mkdir(parents=True)
        for name, blob in fs.items():
            (root / ds / name).write_bytes(blob)
    server = _Server(root)
    registry = {
        ds: dataclasses.replace(
            downloads.REGISTRY[ds],
            files={n: "sha256:" + hashlib.sha256(b).hexdigest() for n, b in fs.items()},
        )
        for ds, fs in files.items()
    }
    yield server, registry, truth, root
    server.close()


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist"])
def test_good_download_parses_to_the_arrays_served(mirror, tmp_path, name):
    server, registry, truth, _ = mirror
    arrays = downloads.load(name, tmp_path / "cache", server.url, registry)
    for k, v in truth[name].items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=k)
    assert arrays["x_train"].dtype == np.uint8 and arrays["y_train"].dtype == np.int64


def test_second_run_does_not_fetch_again(mirror, tmp_path):
    server, registry, _, _ = mirror
    downloads.load("mnist", tmp_path / "cache", server.url, registry)
    first = sum(server.hits.values())
    assert first == 4
    downloads.load("mnist", tmp_path / "cache", server.url, registry)
    assert sum(server.hits.values()) == first


def test_prepare_writes_standardised_images(mirror, tmp_path, monkeypatch):
    server, registry, truth, _ = mirror
    monkeypatch.setitem(downloads.REGISTRY, "cifar10", registry["cifar10"])
    out = tmp_path / "cifar10.npz"
    data.prepare("cifar10", out, tmp_path / "cache", server.url)
    a = data.load_arrays(out)
    assert tuple(a.x_train.shape) == (15, 3, 32, 32) and a.n_classes <= 10
    assert abs(float(a.x_train.mean())) < 1e-4  # per-channel standardised on the train set


def test_corrupted_download_fails_with_hash_message_and_leaves_nothing(mirror, tmp_path):
    server, registry, _, root = mirror
    f = root / "mnist" / "train-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-3] + b"xyz")  # the server now holds a different file
    with pytest.raises(downloads.DownloadError, match="does not match its pinned hash") as e:
        downloads.load("mnist", tmp_path / "cache", server.url, registry)
    assert "expected" in str(e.value) and "got" in str(e.value)
    left = {p.name for p in (tmp_path / "cache" / "mnist").iterdir()}
    assert "train-labels-idx1-ubyte.gz" not in left and not any("tmp" in n for n in left)


def test_truncated_archive_is_a_clear_error_and_no_dataset_is_written(
    mirror, tmp_path, monkeypatch
):
    server, registry, _, root = mirror
    f = root / "cifar10" / "cifar-10-binary.tar.gz"
    cut = f.read_bytes()[: len(f.read_bytes()) // 2]
    f.write_bytes(cut)
    # pin the truncated file's hash, so the parser (not the hash) must catch it
    reg = {
        "cifar10": dataclasses.replace(
            registry["cifar10"],
            files={"cifar-10-binary.tar.gz": "sha256:" + hashlib.sha256(cut).hexdigest()},
        )
    }
    monkeypatch.setitem(downloads.REGISTRY, "cifar10", reg["cifar10"])
    out = tmp_path / "cifar10.npz"
    with pytest.raises(downloads.DownloadError, match="truncated"):
        data.prepare("cifar10", out, tmp_path / "cache", server.url)
    assert not out.exists() and not list(tmp_path.glob("cifar10.npz*"))


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_dead_server_gives_the_no_network_message(tmp_path):
    with pytest.raises(downloads.DownloadError) as e:
        downloads.load("mnist", tmp_path / "cache", f"http://127.0.0.1:{_dead_port()}")
    msg = str(e.value)
    assert "no network" in msg and "mnist1d" in msg and "data.mirror" in msg


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="Known: .*cifar10.*digits.*mnist1d"):
        data.prepare("imagenet", tmp_path / "x.npz")
    with pytest.raises(downloads.DownloadError, match="cifar100, fashion_mnist"):
        downloads.fetch("svhn", tmp_path)


def test_mirror_must_be_a_url(tmp_path):
    with pytest.raises(downloads.DownloadError, match="http"):
        downloads.fetch("mnist", tmp_path, mirror="/etc/passwd")


@pytest.mark.slow
def test_snakemake_download_rule_refuses_a_mismatched_file(mirror, project, tmp_path):
    """The real rule and registry against the loopback mirror: the served test files cannot
    match the canonical hashes, so the job fails naming the hash and leaves no dataset."""
    server, _, _, _ = mirror
    cache = tmp_path / "dl-cache"
    cfg = yaml.safe_load((project / "config" / "test.yaml").read_text())
    cfg["datasets"] = ["mnist"]
    cfg["results"] = "results"
    cfg["data"] = {"cache_dir": str(cache), "mirror": server.url}
    (project / "config" / "dl.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(
        ["snakemake", "results/data/mnist.npz", "--cores", "1", "--configfile", "config/dl.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0
    log = (project / "results" / "logs" / "data" / "mnist.log").read_text()
    assert "does not match its pinned hash" in log + r.stderr
    assert not (project / "results" / "data" / "mnist.npz").exists()
    assert not any(p.is_file() for p in cache.rglob("*"))
    assert sum(server.hits.values()) >= 1  # it did go to the loopback mirror


def test_a_file_mirror_is_read_like_a_server(mirror, tmp_path):
    """A cluster's shared file system as data.mirror: pooch has no file:// downloader."""
    _, registry, truth, root = mirror
    arrays = downloads.load("mnist", tmp_path / "cache", root.as_uri(), registry)
    for k, v in truth["mnist"].items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=k)
    assert (tmp_path / "cache" / "mnist" / "train-labels-idx1-ubyte.gz").is_file()


def test_a_file_mirror_with_a_wrong_or_missing_file_names_it(mirror, tmp_path):
    _, registry, _, root = mirror
    f = root / "mnist" / "train-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-3] + b"xyz")
    with pytest.raises(downloads.DownloadError, match="does not match the pinned") as e:
        downloads.load("mnist", tmp_path / "cache", root.as_uri(), registry)
    assert str(f) in str(e.value)
    f.unlink()
    with pytest.raises(downloads.DownloadError, match="no such file") as e:
        downloads.load("mnist", tmp_path / "cache", root.as_uri(), registry)
    assert str(f) in str(e.value)
