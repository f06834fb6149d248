import os
import subprocess
import sys


def cli(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "nnclaims.cli", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )


def test_run_claim_outside_snakemake(project):
    r = cli(project, "run-claim", "swish_vs_relu", "--config", "config/test.yaml", "--seeds", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Swish vs ReLU:" in r.stdout and "95 % CI" in r.stdout
    assert (project / "results/test/tables/swish_vs_relu.parquet").exists()  # its own folder
    again = cli(
        project, "run-claim", "swish_vs_relu", "--config", "config/test.yaml", "--seeds", "2"
    )
    assert "already finished: kept" in again.stderr


def test_plan_and_bad_config(project):
    r = cli(project, "plan", "--config", "config/test.yaml")
    assert r.returncode == 0 and "spectral_" in r.stdout and "imp_" in r.stdout
    # a partial file is merged over config/config.yaml, as `snakemake --configfile` merges it
    (project / "part.yaml").write_text("seeds: 3\n")
    part = cli(project, "plan", "--config", "part.yaml")
    assert part.returncode == 0 and "seeds=3" in part.stdout and "imp_" in part.stdout
    (project / "bad.yaml").write_text("seeds: 1\n")
    bad = cli(project, "plan", "--config", "bad.yaml")
    assert bad.returncode != 0 and "Invalid config bad.yaml" in bad.stderr
