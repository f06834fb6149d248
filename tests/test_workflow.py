"""The real DAG: dry runs of the default config, config validation, the tiny config end to end."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT

CLAIMS = tuple(yaml.safe_load((ROOT / "config/test.yaml").read_text())["claims"])  # all six

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
        "train_with_masks",
        "collect",
        "analyse_swish_vs_relu",
        "analyse_hat",
        "analyse_mixed_scaling",
        "analyse_sparse_vs_dense",
        "report",
        "summary",
        "draw",
        "default",  # the root Snakefile's target: what workflow/Snakefile's `all` asks for
    ):
        assert f"\n{rule} " in out or out.startswith(f"{rule} ") or f" {rule} " in out, rule


@pytest.mark.parametrize(
    "yaml_line, message",
    [
        ("epochz: 3", "Additional properties are not allowed ('epochz' was unexpected)"),
        ("seeds: 0", "0 is less than the minimum of 2"),
        ("seeds: 1", "1 is less than the minimum of 2"),  # a paired test needs two seeds
        # a mix or set named like an activation would silently replace it
        ("mixes: {relu: [swish, tanh]}", "mixes.relu: an activation is called 'relu'"),
        ("sets: {swish: [abs, relu]}", "sets.swish: an activation is called 'swish'"),
        # relations the schema cannot state, checked before any job
        ("claims: {hat: {spectral: {freqs: [5, 100]}}}", "[100] at or above n_points / 2 = 100"),
        ("claims: {hat: {spectral: {amplitudes: [1, 2]}}}", "2 amplitudes for 10 freqs"),
        ("claims: {sparse_vs_dense: {rewind: 60}}", "rewind: epoch 60 is past the 50 epochs"),
        ("claims: {mixed_scaling: {search: {keep: 20}}}", "keep: 20 is more than its 12"),
        (
            "claims: {hat: {variants: [{tag: a, arms: [hat]}, {tag: a, arms: [relu]}]}}",
            "claims.hat.variants: tag a used twice",
        ),
        ("train: {lr: .nan}", "train.lr: nan is not a finite number"),
        ("train: {lr_grid: [0.01, .inf]}", "train.lr_grid[1]: inf is not a finite number"),
        ("train: {init_scale: .nan}", "train.init_scale: nan is not a finite number"),
        ("claims: {hat: {spectral: {lr: .inf}}}", "claims.hat.spectral.lr: inf is not a finite"),
        ("claims: {sparse_vs_dense: {fraction: .nan}}", "claims.sparse_vs_dense.fraction: nan"),
        ("claims: {sparse_vs_dense: {lottery: {lr: .nan}}}", "sparse_vs_dense.lottery.lr: nan"),
        ("seeds: 5\nseeds: 6", "key 'seeds' is given twice (first at line 1)"),
        ("datasets: [cifar11]", "'cifar11' is not one of ['cifar10', 'cifar100', 'digits'"),
        ("seeds: five", "'five' is not of type 'integer'"),
        ("train: {lr: -1}", "-1 is less than or equal to the minimum of 0"),
        ("train: {model: resnet50}", "'resnet50' is not one of ['mlp', 'mlp_res', 'cnn', 'vgg_he'"),
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


def test_a_config_error_is_one_line_naming_the_key(project):
    """Snakemake's own schema error printed the whole schema (about 290 lines) and ended with
    the key; ours names the key first, inside the form a claim may take (null, or settings)."""
    (project / "bad.yaml").write_text("claims: {hat: 5}\n")
    r = snakemake(project, "-n", "--configfile", "bad.yaml")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and len(out.splitlines()) < 12, out[-3000:]
    assert "Invalid config: 5 is not of type 'object' (at claims.hat)" in out


def test_a_nested_key_can_be_set_with_snakemake_config(project):
    """`--config 'train={epochs: 5}'` failed the schema ('5' is not of type 'integer');
    the other train keys stay as the config file has them (Snakemake merges nested keys)."""
    r = snakemake(project, "-n", "--configfile", "config/test.yaml", "--config",
                  "train={epochs: 5, lr: 1e-3}")  # fmt: skip
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    bad = snakemake(project, "-n", "--configfile", "config/test.yaml", "--config",
                    "train={epochs: five}")  # fmt: skip
    assert bad.returncode != 0 and "'five' is not of type 'integer'" in bad.stdout + bad.stderr


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
    """not a bare WorkflowError, nor a crash in a notebook after training."""
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
    out = project / "results" / "test"  # config/test.yaml's own folder
    assert not (project / "results" / "report.pdf").exists()  # the default run's is not touched
    pdf = out / "report.pdf"
    assert pdf.stat().st_size > 10_000
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    text = " ".join(text.split())
    for claim in CLAIMS:
        nums = json.loads((out / "numbers" / f"{claim}.json").read_text())
        assert nums["title"] in text
        assert nums["verdict"] in ("supported", "contradicted", "equivalent", "inconclusive")
        first_value = nums["table"]["rows"][0][1]
        assert first_value in text, (claim, first_value)  # a measured number reaches the PDF
        for fig in nums["figures"]:
            assert (project / fig["file"]).stat().st_size > 5_000
        assert (out / "notebooks" / f"{claim}.ipynb").exists()
    assert "Verdicts" in text and "Provenance" in text and "Time per stage" in text
    # page 1: the abstract names every claim with its primary test's estimate, and the summary
    # figure (every claim's primary rows, drawn from the numbers above) sits on it
    page1 = " ".join(pypdf.PdfReader(pdf).pages[0].extract_text().split())
    assert "Figure 1: Every claim's primary test" in page1
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", page1.split("Abstract.")[1]), "an identifier"
    for claim in CLAIMS:
        nums = json.loads((out / "numbers" / f"{claim}.json").read_text())
        assert nums["title"] in page1 and all("estimate" in r for r in nums["headline"])
    assert (out / "figures" / "summary.png").stat().st_size > 20_000
    refs = text.split("References")[-1]
    assert all(json.loads((out / "numbers" / f"{c}.json").read_text())["source"][:30] in refs
               for c in CLAIMS)  # fmt: skip
    # the opening table has each claim on both datasets; the sanity check is printed
    for claim in CLAIMS:
        nums = json.loads((out / "numbers" / f"{claim}.json").read_text())
        assert {r["dataset"] for r in nums["headline"]} >= {"mnist1d", "digits"}, claim
        assert all(r["source"] for r in nums["headline"]), claim
    assert "Sanity check" in text and "Greydanus & Kobak 2024" in text
    sparse = json.loads((out / "numbers/sparse_vs_dense.json").read_text())
    stop = [row[-1] for row in sparse["table"]["rows"]]  # IMP: epoch of lowest test loss
    assert stop and all(x in ("1", "2", "3") for x in stop), stop  # an epoch of the 3 run
    everything = pd.read_parquet(out / "metrics.parquet")
    assert set(everything.claim) == set(CLAIMS)
    # the Snakemake HTML report builds, with the figures marked report()
    html = out / "report.html"
    r3 = snakemake(project, "--report", str(html), "--configfile", "config/test.yaml", timeout=300)
    assert r3.returncode == 0, r3.stderr[-2000:]
    assert html.stat().st_size > 50_000
    page = html.read_text()
    for claim in CLAIMS:
        nums = json.loads((out / "numbers" / f"{claim}.json").read_text())
        assert all(fig["file"] in page for fig in nums["figures"]), claim  # figures, by claim
    # workflow/report/workflow.rst, rendered with this config: both embedded datasets
    assert "MNIST-1D" in page and "8x8 handwritten digits" in page
    seeds = yaml.safe_load((project / "config" / "test.yaml").read_text())["seeds"]
    assert f"{seeds} seeds per arm" in page  # its Jinja lines read this run's config
    # the time split reads this run's records: every run counted, training a real share
    split = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "time_split.py"), "--results", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert split.returncode == 0, split.stderr
    n_runs = len(list((out / "runs").glob("*/hparams.json")))
    assert f"runs: {n_runs}" in split.stdout
    share = float(
        re.search(r"training \(inside train jobs\)\s+\d+ core-s\s+([\d.]+) %", split.stdout)[1]
    )
    assert 1 < share < 100, split.stdout
    # a second run has nothing to do: outputs are complete and up to date
    r2 = snakemake(project, "-n", "--configfile", "config/test.yaml")
    assert "Nothing to be done" in r2.stdout + r2.stderr
    # a deleted run file is rebuilt, and so is everything that read it
    run = next((out / "runs").glob("spectral_*"))
    (run / "hparams.json").unlink()
    r4 = snakemake(project, "--cores", "2", "--configfile", "config/test.yaml", timeout=600)
    assert r4.returncode == 0, r4.stdout[-3000:] + r4.stderr[-3000:]
    for job in (
        "rule train",
        "checkpoint collect",
        "rule analyse_hat",
        "rule metrics",
        "rule report",
    ):
        assert f"{job}:" in r4.stdout + r4.stderr, job
    assert "rule analyse_swish_vs_relu:" not in r4.stdout + r4.stderr  # only what read it
    assert json.loads((run / "hparams.json").read_text())["run_id"] == run.name
    mtime = lambda f: (out / f).stat().st_mtime  # noqa: E731
    assert mtime("report.pdf") > mtime("numbers/swish_vs_relu.json")  # the PDF was rebuilt
    # a deleted executed notebook (a log, kept when a cell fails) is rebuilt too
    (out / "notebooks" / "swish_vs_relu.ipynb").unlink()
    r5 = snakemake(project, "-n", "--configfile", "config/test.yaml")
    assert "analyse_swish_vs_relu" in r5.stdout + r5.stderr and "rule train:" not in r5.stdout
    # one function decides a claim: the CLI prints the PDF's verdicts, number for number
    for claim in CLAIMS:
        nums = json.loads((out / "numbers" / f"{claim}.json").read_text())
        assert_cli_prints_the_verdicts(project, claim, nums, "config/test.yaml")


def assert_cli_prints_the_verdicts(project: Path, claim: str, nums: dict, config: str) -> None:
    cli = subprocess.run(
        [sys.executable, "-c", "import sys; from nnclaims.cli import main; sys.exit(main())"]
        + ["run-claim", claim, "--config", config],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "already finished: kept" in cli.stderr  # it read the workflow's runs, trained nothing
    assert f"{nums['title']}: {nums['verdict']} (decided by {nums['decided_by']})" in cli.stdout
    for h in nums["hypotheses"]:
        line = f"{h['role']:<9} {h['verdict']:<13} {h['text']} ({h['dataset']}): mean d = "
        line += f"{h['diff']}, "
        assert line + f"95 % CI {h['ci']}, p (Holm) {h['p_holm']}" in cli.stdout, (claim, line)
    assert cli.stdout.count("mean d = ") == len(nums["hypotheses"])


GELU_ENTRY = """
gelu_vs_relu:
  title: GELU vs ReLU
  statement: GELU, x·Φ(x), matches or beats ReLU.
  source: Hendrycks & Gimpel (2016). Gaussian Error Linear Units (GELUs). arXiv:1606.08415.
  hypotheses:
    - id: gelu_matches_relu
      text: GELU's final test accuracy is at least ReLU's minus 1 point
      metric: test_acc
      a: {arm: gelu}
      b: {arm: relu}
      direction: greater
      threshold: -1.0
    - id: gelu_faster
      text: GELU's training loss at half time is below ReLU's
      metric: train_loss
      a: {arm: gelu, epoch: 0.5}
      b: {arm: relu, epoch: 0.5}
      direction: less
      threshold: 0.0
"""
GELU_CONFIG = """
datasets: [mnist1d]
seeds: 3
train: {model: mlp, depth: 2, width: 32, epochs: 4, batch_size: 100, lr: 0.01, lr_grid: []}
claims:
  gelu_vs_relu:
    arms: [relu, gelu]
"""


@pytest.mark.slow
def test_a_claim_added_as_yaml_only_reaches_the_pdf(project):
    """the "Add a claim" path of docs/extending.md: an entry in config/claims.yaml and arms in the
    config, no code, no notebook, no caption; the generic notebook draws it."""
    pypdf = pytest.importorskip("pypdf")
    claims = project / "config" / "claims.yaml"
    claims.write_text(claims.read_text() + GELU_ENTRY)
    (project / "config" / "config.yaml").write_text(GELU_CONFIG)
    r = snakemake(project, "--cores", "2", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    nums = json.loads((project / "results/numbers/gelu_vs_relu.json").read_text())
    assert nums["notebook"] == "workflow/notebooks/compare.ipynb"
    assert [h["id"] for h in nums["hypotheses"]] == ["gelu_matches_relu", "gelu_faster"]
    assert nums["verdict"] in ("supported", "contradicted", "inconclusive")
    assert [row[0] for row in nums["table"]["rows"]] == ["ReLU", "GELU"]
    for stem in ("accuracy", "differences"):
        assert (project / f"results/figures/gelu_vs_relu/{stem}.png").stat().st_size > 5_000
    pdf = project / "results" / "report.pdf"
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    assert "GELU vs ReLU" in text and "Hendrycks & Gimpel" in text
    assert nums["table"]["rows"][1][1] in text  # GELU's measured accuracy reaches the PDF
    assert f"{nums['hypotheses'][0]['diff']}" in text
    assert_cli_prints_the_verdicts(project, "gelu_vs_relu", nums, "config/config.yaml")


@pytest.mark.parametrize(
    "entry_edit, config_edit, message",
    [
        # a hypothesis naming an arm the config does not run: named, before any job
        (
            ("b: {arm: relu}", "b: {arm: elu}"),
            None,
            "gelu_vs_relu, hypothesis gelu_matches_relu: b.arm 'elu' is not run by the "
            "config's claims.gelu_vs_relu (its arms: relu, gelu)",
        ),
        (("a: {arm: gelu}", "a: {arm: gelu, level: 0.5}"), None, "prunes nothing"),
        (("a: {arm: gelu}", "a: {arm: gelu, size: 7}"), None, "a.size 7 is not a size"),
        (("metric: test_acc", "metric: test_accuracy"), None, "'test_accuracy' is not one of"),
        (("direction: greater", "direction: bigger"), None, "'bigger' is not one of"),
        (("  statement: GELU", "  statment: GELU"), None, "('statment' was unexpected)"),
        # a claim in the config with no entry in claims.yaml
        (None, ("gelu_vs_relu:", "gelu_vs_elu:"), "claims.gelu_vs_elu: no entry gelu_vs_elu"),
        (
            None,
            ("arms: [relu, gelu]", "arms: [relu, gelu]\n    untested: [nope]"),
            "no hypothesis nope",
        ),
    ],
)
def test_a_claim_that_its_runs_cannot_decide_stops_before_any_job(
    project, entry_edit, config_edit, message
):
    entry, config = GELU_ENTRY, GELU_CONFIG
    if entry_edit:
        assert entry_edit[0] in entry
        entry = entry.replace(entry_edit[0], entry_edit[1], 1)
    if config_edit:
        config = config.replace(config_edit[0], config_edit[1], 1)
    claims = project / "config" / "claims.yaml"
    claims.write_text(claims.read_text() + entry)
    (project / "config" / "config.yaml").write_text(config)
    r = snakemake(project, "-n")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
    assert not (project / "results").exists()


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
    target = "results/test/numbers/swish_vs_relu.json"
    r = snakemake(project, target, "--cores", "2", "--configfile", "config/test.yaml", timeout=600)
    assert r.returncode != 0
    assert "boom: a deliberate failure" in r.stdout + r.stderr  # the failed log, cell included
    kept = project / "results/test/notebooks/swish_vs_relu.ipynb"
    assert "boom: a deliberate failure" in kept.read_text()
    assert (project / "results/test/tables/swish_vs_relu.parquet").exists()  # work stays


LOOKS_CONFIG = GELU_CONFIG.replace("seeds: 3", "seeds: 3\ndecide: {looks: [3, 5]}")


@pytest.mark.slow
def test_a_design_with_two_looks_runs_to_its_end(project):
    """config `decide`: the first look's checkpoint leaves a test open, so Snakemake asks for the
    second look's runs; they train only the added seeds (the first three are reused bit for bit
    from the replicate store) and the report says at which look each test stopped."""
    claims = project / "config" / "claims.yaml"
    claims.write_text(claims.read_text() + GELU_ENTRY)
    (project / "config" / "config.yaml").write_text(LOOKS_CONFIG)
    first = "results/tables/looks/gelu_vs_relu.1.design.json"
    r = snakemake(project, "--cores", "2", first, timeout=600)  # the first look alone
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    state = json.loads((project / first).read_text())
    assert state["look"] == 1 and state["continue"], state["why"]  # else: pick an open test
    reps = sorted((project / "results/replicates").glob("*/seed_*.parquet"))
    assert {p.stem for p in reps} == {"seed_0", "seed_1", "seed_2"}
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in reps}
    look1 = pd.read_parquet(project / "results/tables/looks/gelu_vs_relu.1.parquet")

    r = snakemake(project, "--cores", "2", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for p, (mtime, data) in before.items():  # the first look's seeds: not trained again
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, p
    added = {p.stem for p in (project / "results/replicates").glob("*/seed_*.parquet")} - {
        p.stem for p in reps
    }
    assert added == {"seed_3", "seed_4"}
    look2 = pd.read_parquet(project / "results/tables/looks/gelu_vs_relu.2.parquet")
    cols = [c for c in look1.columns if c != "run_id"]
    key = ["arm", "seed", "split", "metric", "epoch"]
    old = look1[look1.seed < 3][cols].sort_values(key).reset_index(drop=True)
    new = look2[look2.seed < 3][cols].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(old, new, check_exact=True)  # bit for bit
    assert set(look2.seed[look2.seed < 10_000]) == {0, 1, 2, 3, 4}

    final = json.loads((project / "results/tables/gelu_vs_relu.design.json").read_text())
    assert final["look"] == 2 and not final["continue"]
    nums = json.loads((project / "results/numbers/gelu_vs_relu.json").read_text())
    assert nums["design"]["looks"] == [3, 5]
    for h in nums["hypotheses"]:
        t = final["tests"][f"{h['id']}|mnist1d"]
        assert h["n"] == t["row"]["n"] == (3 if t["look"] == 1 and t["decided"] else 5)
        assert ("stopped at look" if t["decided"] else "inconclusive at n = 5") in h["how"]
    pypdf = pytest.importorskip("pypdf")
    pdf = project / "results" / "report.pdf"
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    assert "seeds are added in looks declared before the data, at 3, 5 seeds" in text
