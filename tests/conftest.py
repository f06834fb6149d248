import shutil
from pathlib import Path

import pytest

import nnclaims  # noqa: F401 (pins the CPU kernels' instruction set before any test runs torch)
import nnclaims.kinds  # noqa: F401 (registers the built-in kinds, as every entry point does)

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "paper", "profiles", "envs", "archive")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the workflow (not of results/) in a temporary directory."""
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / part)
        else:
            shutil.copy2(src, tmp_path / part)
    return tmp_path


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Path:
    """The embedded digits dataset as the .npz a run reads."""
    import numpy as np

    from nnclaims.data import datasets as data

    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, **data.get_maker("digits")())
    return path
