import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "paper", "profiles", "envs")


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
