"""Nothing a user does deletes their work: `nnclaims stale` follows the code that made the numbers
(not a docs edit) and asks before it deletes; a `results` folder over the project's own files, the
filesystem root or a folder of someone else's files is refused before any job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_workflow import snakemake

from nnclaims.core import provenance
from nnclaims.plan import results_folder


def git(cwd: Path, *args: str) -> str:
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env = {**os.environ, **who, "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout of the project as it is on disk now (tracked and new files, no results)."""
    files = git(ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    out = tmp_path / "checkout"
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (out / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, out / f)
    git(out, "init", "-q")
    git(out, "add", "-A")
    git(out, "commit", "-q", "-m", "snapshot")
    return out


def nnclaims(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI of the checkout's own library (not the installed one), from the checkout."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    return subprocess.run(
        [sys.executable, "-m", "nnclaims.cli", *args],
        cwd=checkout, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=120,
    )  # fmt: skip


def fake_run(checkout: Path, results: str, name: str) -> Path:
    """A finished run directory whose hparams record the checkout's code as it is now."""
    code = (
        "import json, sys; from nnclaims.core.provenance import git_state; "
        "print(json.dumps(git_state()))"
    )
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    state = subprocess.run([sys.executable, "-c", code], cwd=checkout, env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    d = checkout / results / "runs" / name
    d.mkdir(parents=True)
    (d / "hparams.json").write_text(json.dumps({"provenance": {"git": json.loads(state)}}))
    (d / "metrics.parquet").write_text("rows")
    return d


def test_a_docs_edit_leaves_runs_current_and_a_code_edit_makes_them_stale(checkout):
    run = fake_run(checkout, "results", "classify_aaaaaaaaaaaa")
    with open(checkout / "README.md", "a") as f:  # uncommitted: the tree is now dirty
        f.write("\nOne more line of documentation.\n")
    (checkout / "workflow/notebooks/hat.ipynb").write_text("{}")  # draws; trains nothing
    r = nnclaims(checkout, "stale", "--remove", "--yes")
    assert r.returncode == 0, r.stderr
    assert "0 run(s) stale" in r.stdout and run.is_dir()
    # a change to the library that trains: the run is stale, and listed before anything goes
    lib = checkout / "src/nnclaims/train/engine.py"
    lib.write_text(lib.read_text() + "\n# a changed line\n")
    r = nnclaims(checkout, "stale")
    assert "1 run(s) stale" in r.stdout and str(run.relative_to(checkout)) in r.stdout
    # --remove without --yes and without a terminal to ask on: refused, nothing deleted
    r = nnclaims(checkout, "stale", "--remove")
    assert r.returncode == 2 and "add --yes" in r.stderr and run.is_dir()
    r = nnclaims(checkout, "stale", "--remove", "--yes")
    assert r.returncode == 0 and "1 run(s) removed" in r.stdout and not run.exists()


def test_stale_reads_the_configs_results_folder(checkout):
    (checkout / "mine.yaml").write_text("results: elsewhere/mine\n")
    run = fake_run(checkout, "elsewhere/mine", "classify_bbbbbbbbbbbb")
    lib = checkout / "src/nnclaims/train/engine.py"
    lib.write_text(lib.read_text() + "\n# a changed line\n")
    r = nnclaims(checkout, "stale", "--config", "mine.yaml")
    assert r.returncode == 0, r.stderr
    assert "1 run(s) stale in elsewhere/mine/runs" in r.stdout and run.is_dir()
    assert "0 run(s) stale in results/runs" in nnclaims(checkout, "stale").stdout


def test_a_record_from_before_the_code_hash_is_judged_by_its_commits_code_files(checkout):
    head = git(checkout, "rev-parse", "HEAD").strip()
    was = {"commit": head, "dirty": False, "diff_sha256": None}  # no code_sha256
    now = {"commit": head, "dirty": True, "diff_sha256": "f00"}
    (checkout / "README.md").write_text("edited\n")
    assert provenance.same_code(was, now, cwd=str(checkout))
    (checkout / "workflow/rules/train.smk").write_text("# edited\n")
    assert not provenance.same_code(was, now, cwd=str(checkout))


def test_the_code_hash_follows_library_and_rules_only(tmp_path):
    for f in ("Snakefile", "workflow/rules/a.smk", "workflow/scripts/b.py", "README.md",
              "workflow/notebooks/c.ipynb", "config/config.yaml"):  # fmt: skip
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x\n")
    before = provenance.code_sha256(tmp_path)
    for f in ("README.md", "workflow/notebooks/c.ipynb", "config/config.yaml"):
        (tmp_path / f).write_text("changed\n")
    assert provenance.code_sha256(tmp_path) == before
    for f in ("Snakefile", "workflow/rules/a.smk", "workflow/scripts/b.py"):
        (tmp_path / f).write_text("changed\n")
        assert provenance.code_sha256(tmp_path) != before, f
        (tmp_path / f).write_text("x\n")


@pytest.mark.parametrize(
    "results, message",
    [
        ("workflow", "overlaps the project's files"),
        ("workflow/notebooks", "overlaps the project's files"),
        ("workflow/newdir", "overlaps the project's files"),
        ("src", "overlaps the project's files"),
        ("README.md", "overlaps the project's files"),
        (".git/x", "inside .git/"),
        (".", "holds the project checkout itself"),
        ("..", "holds the project checkout itself"),
        ("/", "is the filesystem root"),
        ("../../../../../../../../../..", "is the filesystem root"),
    ],
)
def test_a_results_folder_over_the_projects_files_is_refused(
    checkout, monkeypatch, results, message
):
    monkeypatch.chdir(checkout)
    got = results_folder.problem(results, checkout)
    assert got is not None and message in got and "results/mine" in got


def test_safe_results_folders_are_accepted(checkout, tmp_path, monkeypatch):
    monkeypatch.chdir(checkout)
    assert results_folder.problem("results", checkout) is None
    assert results_folder.problem("results/test", checkout) is None
    assert results_folder.problem(tmp_path / "new", checkout) is None  # outside, new
    (tmp_path / "empty").mkdir()
    assert results_folder.problem(tmp_path / "empty", checkout) is None
    assert "did not write" in results_folder.problem("/etc", checkout)
    someone = tmp_path / "theirs"
    (someone / "report").mkdir(parents=True)
    (someone / "report" / "thesis.tex").write_text("years of work")
    assert "did not write" in results_folder.problem(someone, checkout)
    results_folder.mark(tmp_path / "ours")
    (tmp_path / "ours" / "report").mkdir()
    assert results_folder.problem(tmp_path / "ours", checkout) is None
    old = tmp_path / "old" / "runs" / "classify_x"  # an earlier version's results: no marker
    old.mkdir(parents=True)
    (old / "hparams.json").write_text("{}")
    assert results_folder.problem(tmp_path / "old", checkout) is None


def test_snakemake_refuses_results_in_the_source_tree_and_deletes_nothing(checkout):
    before = git(checkout, "status", "--porcelain")
    for results in ("workflow", "/"):
        r = snakemake(checkout, "--cores", "1", "--config", f"results={results}")
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "Invalid config: results:" in out, out[-2000:]
    assert git(checkout, "status", "--porcelain") == before  # hat.ipynb and the rest still there
    assert (checkout / "workflow/notebooks/hat.ipynb").stat().st_size > 1000


def test_the_cli_refuses_results_in_the_source_tree(checkout):
    r = nnclaims(checkout, "run-claim", "hat", "--set", "results=workflow")
    assert r.returncode == 2 and "overlaps the project's files" in r.stderr
    assert git(checkout, "status", "--porcelain") == ""


def test_a_run_marks_its_results_folder(project):
    r = snakemake(project, "--cores", "1", "--config", "results=out", "--", "out/data/digits.npz")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (project / "out" / results_folder.MARKER).is_file()
