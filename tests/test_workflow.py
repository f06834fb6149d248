"""The real DAG: dry runs of the default config, config validation, the tiny config end to end."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(cwd: Path, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_dry_run_of_the_default_config_lists_every_stage():
    r = snakemake(ROOT, "-n", "--directory", str(ROOT), "--forceall", "--quiet", "rules")
    assert r.returncode == 0, r.stderr + r.stdout
    out = r.stdout + r.stderr
    for rule in (
        "data",
        "train",
        "train_imp",
        "train_control",
        "collect",
        "analyse_swish_vs_relu",
        "analyse_hat",
        "analyse_mixed_scaling",
        "analyse_sparse_vs_dense",
        "report",
        "all",
    ):
        assert f"\n{rule} " in out or out.startswith(f"{rule} ") or f" {rule} " in out, rule


@pytest.mark.parametrize(
    "yaml_line, message",
    [
        ("epochz: 3", "Additional properties are not allowed ('epochz' was unexpected)"),
        ("seeds: 0", "0 is less than the minimum of 2"),
        ("seeds: 1", "1 is less than the minimum of 2"),  # a paired test needs two seeds
        # #18.3: a mix or set named like an activation would silently replace it
        ("mixes: {relu: [swish, tanh]}", "mixes.relu: an activation is called 'relu'"),
        ("sets: {swish: [abs, relu]}", "sets.swish: an activation is called 'swish'"),
        # #18.4: relations the schema cannot state, checked before any job
        ("claims: {hat: {spectral: {freqs: [5, 100]}}}", "[100] at or above n_points / 2 = 100"),
        ("claims: {hat: {spectral: {amplitudes: [1, 2]}}}", "2 amplitudes for 10 freqs"),
        ("claims: {sparse_vs_dense: {rewind: 60}}", "rewind: epoch 60 is past the 50 epochs"),
        ("claims: {mixed_scaling: {search: {keep: 20}}}", "keep: 20 is more than its 12"),
        (
            "claims: {hat: {variants: [{tag: a, arms: [hat]}, {tag: a, arms: [relu]}]}}",
            "claims.hat.variants: tag a used twice",
        ),
        ("train: {lr: .nan}", "train.lr: learning rate nan is not a positive finite number"),
        ("train: {lr_grid: [0.01, .inf]}", "train.lr_grid[1]: learning rate inf is not"),
        ("datasets: [cifar11]", "'cifar11' is not one of ['cifar10', 'cifar100', 'digits'"),
        ("seeds: five", "'five' is not of type 'integer'"),
        ("train: {lr: -1}", "-1 is less than or equal to the minimum of 0"),
        ("train: {model: resnet50}", "'resnet50' is not one of ['mlp', 'cnn', 'vgg_he'"),
        ("data: {mirror: 'ftp://x'}", "'ftp://x' does not match"),
        ("mixes: {m2: [relu, relux]}", "'relux' is not one of"),
        ("claims: {hat: {arms: []}}", "should be non-empty"),
        (
            "claims: {sparse_vs_dense: {rounds: 2, fraction: 1.5, controls: [random]}}",
            "1.5 is greater than or equal to the maximum of 1",
        ),
    ],
)
def test_invalid_config_stops_before_any_job(project, yaml_line, message):
    (project / "bad.yaml").write_text(yaml_line + "\n")
    r = snakemake(project, "-n", "--configfile", "bad.yaml")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not (project / "results").exists()


def test_unknown_arm_stops_before_any_job(project):
    (project / "bad.yaml").write_text("claims:\n  swish_vs_relu:\n    arms: [relu, relux]\n")
    r = snakemake(project, "-n", "--configfile", "bad.yaml")
    assert r.returncode != 0
    assert "No such arm: 'relux'" in r.stdout + r.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        ("swish_vs_relu:\n  claim: [unclosed\nhat: {}\n", "config/claims.yaml, line 3, column 4"),
        ("", "config/claims.yaml is empty"),
    ],
)
def test_broken_claims_yaml_names_file_and_line(project, text, message):
    """#18.7: not a bare WorkflowError, nor a crash in a notebook after training."""
    (project / "config" / "claims.yaml").write_text(text)
    r = snakemake(project, "-n")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not (project / "results").exists()


@pytest.mark.slow
def test_tiny_config_end_to_end_makes_the_pdf(project):
    pypdf = pytest.importorskip("pypdf")
    r = snakemake(project, "--cores", "2", "--configfile", "config/test.yaml", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pdf = project / "results" / "report.pdf"
    assert pdf.stat().st_size > 10_000
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    text = " ".join(text.split())
    for claim in ("swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense"):
        nums = json.loads((project / "results" / "numbers" / f"{claim}.json").read_text())
        assert nums["title"] in text
        assert nums["verdict"] in ("supported", "contradicted", "inconclusive")
        first_value = nums["table"]["rows"][0][1]
        assert first_value in text, (claim, first_value)  # a measured number reaches the PDF
        for fig in nums["figures"]:
            assert (project / fig["file"]).stat().st_size > 5_000
        assert (project / "results" / "notebooks" / f"{claim}.ipynb").exists()
    assert "Verdicts" in text and "Provenance" in text and "Time per stage" in text
    # the opening table has each claim on both datasets; the sanity check is printed
    for claim in ("swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense"):
        nums = json.loads((project / "results" / "numbers" / f"{claim}.json").read_text())
        assert {r["dataset"] for r in nums["headline"]} == {"mnist1d", "digits"}, claim
        assert all(r["source"] for r in nums["headline"]), claim
    assert "Sanity check" in text and "Greydanus & Kobak 2024" in text
    sparse = json.loads((project / "results/numbers/sparse_vs_dense.json").read_text())
    stop = [row[-1] for row in sparse["table"]["rows"]]  # IMP: epoch of lowest test loss
    assert stop and all(x in ("1", "2", "3") for x in stop), stop  # an epoch of the 3 run
    everything = pd.read_parquet(project / "results" / "metrics.parquet")
    assert set(everything.claim) == {"swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense"}
    # the Snakemake HTML report builds, with the figures marked report()
    html = project / "results" / "report.html"
    r3 = snakemake(project, "--report", str(html), "--configfile", "config/test.yaml", timeout=300)
    assert r3.returncode == 0, r3.stderr[-2000:]
    assert html.stat().st_size > 50_000
    # the time split reads this run's records: every run counted, training a real share
    split = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "time_split.py")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert split.returncode == 0, split.stderr
    n_runs = len(list((project / "results" / "runs").glob("*/hparams.json")))
    assert f"runs: {n_runs}" in split.stdout
    share = float(
        re.search(r"training \(inside train jobs\)\s+\d+ core-s\s+([\d.]+) %", split.stdout)[1]
    )
    assert 1 < share < 100, split.stdout
    # a second run has nothing to do: outputs are complete and up to date
    r2 = snakemake(project, "-n", "--configfile", "config/test.yaml")
    assert "Nothing to be done" in r2.stdout + r2.stderr


@pytest.mark.slow
def test_failing_notebook_shows_the_cell_and_keeps_the_notebook(project):
    nb = project / "workflow/notebooks/swish_vs_relu.ipynb"
    d = json.loads(nb.read_text())
    d["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "raise RuntimeError('boom: a deliberate failure')",
        }
    )
    nb.write_text(json.dumps(d))
    target = "results/numbers/swish_vs_relu.json"
    r = snakemake(project, target, "--cores", "2", "--configfile", "config/test.yaml", timeout=600)
    assert r.returncode != 0
    assert "boom: a deliberate failure" in r.stdout + r.stderr  # the failed log, cell included
    kept = project / "results/notebooks/swish_vs_relu.ipynb"
    assert "boom: a deliberate failure" in kept.read_text()
    assert (project / "results/tables/swish_vs_relu.parquet").exists()  # finished work stays
