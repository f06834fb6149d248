"""The DAG on a submit host with Snakemake alone: a fresh venv holding only Snakemake
(at the version installed here) plans the default, test and paper configs and lints the
workflow from a checkout whose library is not installed, with no torch, numpy or pandas."""

import os
import shutil
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import ROOT, WORKFLOW_PARTS


@pytest.fixture(scope="module")
def snakemake_only(tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("submit") / "venv"
    venv.create(env, with_pip=True)  # no system site-packages: nothing of this environment
    pip = subprocess.run(
        [env / "bin" / "pip", "install", "-q", f"snakemake=={version('snakemake')}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0:
        pytest.skip(f"cannot install snakemake into a fresh venv here: {pip.stderr[-500:]}")
    return env


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    for part in (*WORKFLOW_PARTS, "src"):
        src = ROOT / part
        copy = shutil.copytree if src.is_dir() else shutil.copy2
        copy(src, root / part)
    return root


def run(env: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [env / "bin" / "snakemake", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean,
    )


def test_the_venv_has_snakemake_and_no_training_stack(snakemake_only):
    py = snakemake_only / "bin" / "python"
    for module in ("torch", "numpy", "pandas", "nnclaims"):
        r = subprocess.run([py, "-c", f"import {module}"], capture_output=True, text=True)
        assert r.returncode != 0, f"{module} is importable in the Snakemake-only venv"
    assert sys.prefix != str(snakemake_only)


@pytest.mark.parametrize("config", ["config/config.yaml", "config/test.yaml", "config/paper.yaml"])
def test_dry_run_plans_every_job_with_snakemake_alone(snakemake_only, checkout, config):
    r = run(snakemake_only, checkout, "-n", "--configfile", config)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "report" in out and "train" in out and "dry-run" in out, out[-3000:]


def test_lint_with_snakemake_alone(snakemake_only, checkout):
    r = run(snakemake_only, checkout, "--lint")
    out = r.stdout + r.stderr
    assert "Congratulations, your workflow is in a good condition!" in out, out[-3000:]


def test_a_bad_config_still_names_the_problem_with_snakemake_alone(snakemake_only, checkout):
    r = run(snakemake_only, checkout, "-n", "--config", "seeds=0")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "seeds" in out, out[-3000:]
