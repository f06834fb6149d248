import numpy as np
import pytest

from nnclaims.data import datasets as data

# sha256 of the generated MNIST-1D arrays (float32 x, int64 y), equal to the published pickle's
# content; a change here means the default dataset changed under every result.
MNIST1D_SHA256 = "e4cf7069813242066fc7a9f9701a81ba8380f70807b9846167843507284a5367"


@pytest.fixture(scope="module")
def mnist1d_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mnist1d.npz"
    digest = data.prepare("mnist1d", path)
    return path, digest


def test_mnist1d_shapes_and_checksum(mnist1d_file):
    path, digest = mnist1d_file
    a = data.load_npz(path)
    assert a["x_train"].shape == (4000, 40) and a["x_test"].shape == (1000, 40)
    assert a["y_train"].shape == (4000,) and a["y_test"].shape == (1000,)
    assert set(np.unique(a["y_train"])) == set(range(10))
    assert digest == MNIST1D_SHA256 == data.checksum(a)


def test_npz_has_no_pickles(mnist1d_file):
    path, _ = mnist1d_file
    with np.load(path, allow_pickle=False) as z:  # raises if any array needed pickle
        assert sorted(z.files) == sorted(data.KEYS)


def test_unknown_dataset_and_missing_file():
    with pytest.raises(
        ValueError, match="No such dataset: 'cifar11'. Known: cifar10, .*digits.*mnist1d"
    ):
        data.get_maker("cifar11")
    with pytest.raises(FileNotFoundError, match="run `snakemake"):
        data.load_npz("/nonexistent/x.npz")


def test_digits_is_embedded_and_split_fixed():
    a = data.make_digits()
    assert a["x_train"].shape == (1437, 64) and a["x_test"].shape == (360, 64)
    assert 0 <= a["x_train"].min() and a["x_train"].max() <= 1
    assert sorted(set(a["y_test"].tolist())) == list(range(10))
    b = data.make_digits()
    assert data.checksum(a) == data.checksum(b)
