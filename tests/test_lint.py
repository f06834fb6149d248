"""Style gates run in CI: ruff, snakefmt and snakemake --lint (each must have no findings)."""

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def run(*cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff():
    if not shutil.which("ruff"):
        pytest.skip("ruff not installed (pip install -e '.[test]')")
    r = run("ruff", "check", "src", "tests", "benchmarks", "workflow/scripts")
    assert r.returncode == 0, r.stdout
    r = run("ruff", "format", "--check", "src", "tests", "benchmarks", "workflow/scripts")
    assert r.returncode == 0, r.stdout


def test_snakefmt():
    if not shutil.which("snakefmt"):
        pytest.skip("snakefmt not installed (pip install -e '.[test]')")
    r = run("snakefmt", "--check", "Snakefile", "workflow/Snakefile", "workflow/rules")
    assert r.returncode == 0, r.stdout + r.stderr


def test_snakemake_lint():
    r = run(sys.executable, "-m", "snakemake", "--lint")
    assert "Congratulations, your workflow is in a good condition!" in r.stdout + r.stderr, r.stdout
