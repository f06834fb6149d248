"""No input silently changes a verdict: each way a hostile or careless input once slipped through
(a metric the runs do not record, a test that cannot fail, a key given twice, an edited archived
seed or run file, a NaN in a nested number, a notebook path with shell in it, a bad dataset file,
an epoch past the run) is refused with a message naming the problem, the file and the fix."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from test_io import full_disk  # noqa: F401 (a fixture)
from test_verdicts import _table

from nnclaims import cli
from nnclaims.core.files import DamagedFile, archive_problem, write_run_files
from nnclaims.core.testtype import ClaimsError
from nnclaims.data import datasets as data
from nnclaims.plan import claims, results_folder
from nnclaims.plan.config import BadYaml
from nnclaims.plan.runs import make_plan
from nnclaims.run import replicates, tables


@pytest.fixture(scope="module")
def default():
    """The default config, its plan and config/claims.yaml, as the workflow reads them."""
    cwd = Path.cwd()
    try:
        import os

        os.chdir(ROOT)
        cfg = cli.load_config("config/config.yaml", None, None)
        return cfg, make_plan(cfg), claims.load(ROOT / "config/claims.yaml")
    finally:
        os.chdir(cwd)


def _hypothesis(doc: dict, cid: str, hid: str) -> dict:
    return next(h for h in doc[cid]["hypotheses"] if h["id"] == hid)


def test_a_metric_the_claims_runs_do_not_record_stops_before_any_job(default):
    cfg, plan, doc = default
    doc = copy.deepcopy(doc)
    _hypothesis(doc, "mish", "mish_matches_swish")["metric"] = "best_epoch"
    with pytest.raises(ClaimsError, match="mish_matches_swish: a reads the epoch of lowest"):
        claims.check(doc, cfg, plan)


def test_an_epoch_past_the_runs_stops_before_any_job_and_is_never_the_nearest(default):
    cfg, plan, doc = default
    doc = copy.deepcopy(doc)
    _hypothesis(doc, "mish", "mish_matches_swish")["a"]["epoch"] = 99
    with pytest.raises(ClaimsError, match="a.epoch 99 is past the 50 epochs"):
        claims.check(doc, cfg, plan)
    from nnclaims.report import analysis

    df = _table({"a": np.full((3, 2), 50.0)})
    with pytest.raises(LookupError, match="epoch 99 is past arm 'a'"):
        analysis.select(df, "test_acc", "a", epoch=99, dataset="digits")


def test_a_test_that_could_not_be_evaluated_leaves_the_claim_not_supported():
    from nnclaims.stats.verdicts import evaluate_claim

    df = _table({"a": np.full((3, 4), 80.0) + np.arange(4), "b": np.full((3, 4), 60.0)})
    ok = {"id": "a_beats_b", "text": "a beats b", "metric": "test_acc", "a": {"arm": "a"},
          "b": {"arm": "b"}, "direction": "greater", "threshold": 0.0}  # fmt: skip
    alone = evaluate_claim(df, {"hypotheses": [ok]})
    assert alone["verdict"] == "supported" and alone["unevaluated"] == []
    late = {**ok, "id": "late", "text": "a beats b at epoch 9", "a": {"arm": "a", "epoch": 9},
            "b": {"arm": "b", "epoch": 9}}  # fmt: skip
    both = evaluate_claim(df, {"hypotheses": [ok, late]})
    assert both["verdict"] == "inconclusive" and both["by_dataset"] == {"digits": "inconclusive"}
    assert both["unevaluated"] == ["a beats b at epoch 9 (epoch 9 is past arm 'a''s last "
                                   "recorded epoch 3)"]  # fmt: skip
    assert both["not_tested"] == []


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.update(b=dict(h["a"])), "a and b select the same runs"),
        (lambda h: h.update(threshold=float("-inf")), "threshold: -inf is not a finite number"),
        (lambda h: h.update(threshold=float("nan")), "threshold: nan is not a finite number"),
        (lambda h: h.update(a={"arm": "swish", "minus": {"arm": "swish"}}), "a.minus selects"),
    ],
)
def test_a_test_that_cannot_fail_is_refused(tmp_path, default, edit, message):
    doc = copy.deepcopy(default[2])
    edit(_hypothesis(doc, "mish", "mish_matches_swish"))
    f = tmp_path / "claims.yaml"
    f.write_text(_dump(doc))
    with pytest.raises(ClaimsError, match=message):
        claims.load(f)


def test_arm_groups_that_share_an_arm_are_refused(tmp_path, default):
    doc = copy.deepcopy(default[2])
    h = doc["polynomials"]["hypotheses"][0]
    h["b"]["arms"] = [*h["b"]["arms"], h["a"]["arms"][0]]
    f = tmp_path / "claims.yaml"
    f.write_text(_dump(doc))
    with pytest.raises(ClaimsError, match="a and b both include arm identity"):
        claims.load(f)


def _dump(doc: dict) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def test_a_claims_block_given_twice_is_refused_naming_file_line_and_key(tmp_path):
    text = (ROOT / "config/claims.yaml").read_text()
    second = "\nmish:\n  title: again\n"
    f = tmp_path / "claims.yaml"
    f.write_text(text + second)
    line = len(text.splitlines()) + 2
    with pytest.raises(BadYaml, match=rf"{f}, line {line}, column 1: key 'mish' is given twice"):
        claims.load(f)
    f.write_text("a:\n  threshold: 1\n  threshold: -50\n")
    with pytest.raises(BadYaml, match="key 'threshold' is given twice \\(first at line 2\\)"):
        claims.load(f)


def test_a_nan_anywhere_in_the_config_is_refused_by_the_cli():
    r = subprocess.run(
        [sys.executable, "-m", "nnclaims.cli", "run-claim", "mish",
         "--set", "train.init_scale=.nan"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr[-2000:]
    assert "train.init_scale: nan is not a finite number" in r.stderr


def test_an_edited_archived_seed_is_refused_before_any_job_and_when_copied(tmp_path):
    arch = tmp_path / "archive"
    shutil.copytree(ROOT / "archive", arch)
    assert archive_problem(arch) is None
    seed = next(arch.glob("widths_*/seed_3.parquet"))
    df = pd.read_parquet(seed)
    df.loc[df["metric"] == "test_acc", "value"] = 10.0
    df.to_parquet(seed, index=False)
    problem = archive_problem(arch)
    assert problem and str(seed) in problem and "changed after it was archived" in problem
    with pytest.raises(ValueError, match="changed after it was archived"):
        replicates.verify(arch, [seed])
    extra = arch / "widths_x" / "seed_0.json"  # a file no `nnclaims archive` wrote
    extra.parent.mkdir()
    extra.write_text("{}")
    shutil.copy2(ROOT / "archive" / seed.relative_to(arch), seed)
    assert "is not listed in" in archive_problem(arch)


def test_the_real_archive_matches_its_index():
    assert archive_problem(ROOT / "archive") is None


def test_an_edited_run_table_or_record_is_caught_when_tables_are_collected(tmp_path):
    run = tmp_path / "runs" / "classify_abc"
    rows = pd.DataFrame({"metric": ["test_acc"] * 4, "value": [60.0, 61, 62, 63]})
    meta = {"run_id": "classify_abc", "hparams": {"arm": "relu"}, "lr_used": [0.01],
            "provenance": {"git": {"commit": "a" * 40, "dirty": False}}}  # fmt: skip
    m, h = run / "metrics.parquet", run / "hparams.json"
    write_run_files(rows, meta, m, h)
    out = (tmp_path / "t.parquet", tmp_path / "t.json")
    assert len(tables.collect("c", [m], [h], *out)) == 4  # as written: accepted
    record = json.loads(h.read_text())
    h.write_text(json.dumps({**record, "lr_used": [0.1]}, indent=2))
    with pytest.raises(DamagedFile, match="hparams.json was changed after its run wrote it"):
        tables.collect("c", [m], [h], *out)
    h.write_text(json.dumps(record, indent=2))
    rows.assign(value=rows["value"] + 10).to_parquet(m, index=False)
    with pytest.raises(DamagedFile, match="metrics.parquet was changed after its run wrote it"):
        tables.collect("c", [m], [h], *out)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda a: a.update(y_train=np.where(a["y_train"] == 9, 12, a["y_train"])),
         "y_train holds label 12, outside \\[0, 10\\)"),
        (lambda a: a.update(y_test=-a["y_test"]), "y_test holds label -9, outside"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.float32)), "1-D integer labels"),
        (lambda a: a.update(y_train=a["y_train"][:-5]), "shape \\(1437, 64\\) for 1432"),
        (lambda a: a.update(x_test=a["x_test"][:, :60]), "x_test \\(60,\\)"),
        (lambda a: a["x_train"].__setitem__((3, 4), np.nan), "x_train holds 1 NaN or infinite"),
    ],
)  # fmt: skip
def test_a_bad_dataset_file_is_refused_naming_it(tmp_path, edit, message):
    arrays = data.get_maker("digits")()
    edit(arrays)
    path = tmp_path / "digits.npz"
    np.savez(path, **arrays)
    with pytest.raises(data.BadData, match=message) as e:
        data.load_npz(path)
    assert str(path) in str(e.value) and "delete it and rerun" in str(e.value)


def test_a_bad_dataset_file_makes_the_cli_exit_2(tmp_path):
    """A seed's own draw (results/data/digits/draw_0.npz) with a label outside digits' 10."""
    results = tmp_path / "res"
    arrays = data.DRAWS["digits"](0)
    arrays["y_train"][0] = 11
    (results / "data" / "digits").mkdir(parents=True)
    results_folder.mark(results)
    np.savez(results / "data" / "digits" / "draw_0.npz", **arrays)
    r = subprocess.run(
        [sys.executable, "-m", "nnclaims.cli", "run-claim", "mish", "--dataset", "digits",
         "--set", f"results={results}", "--seeds", "2", "--set", "train.epochs=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr[-2000:]
    assert "draw_0.npz: y_train holds label 11" in r.stderr and "outside [0, 10)" in r.stderr


def test_a_notebook_path_outside_the_notebooks_folder_or_with_shell_in_it_is_refused(tmp_path):
    import yaml

    doc = yaml.safe_load((ROOT / "config/claims.yaml").read_text())
    for bad in ("workflow/notebooks/a$(touch PWNED).ipynb", "../x.ipynb", "/tmp/x.ipynb",
                "workflow/notebooks/a b.ipynb"):  # fmt: skip
        doc["hat"]["notebook"] = bad
        f = tmp_path / "claims.yaml"
        f.write_text(_dump(doc))
        with pytest.raises(ClaimsError, match="does not match"):
            claims.load(f)
    assert not (ROOT / "PWNED").exists()


def test_the_analysis_command_quotes_every_value_and_passes_the_claim_as_text(project):
    """A claim called `inf` reached the notebook as a float (papermill -p parses numbers)."""
    import yaml

    cfg = yaml.safe_load((project / "config/config.yaml").read_text())
    cfg["claims"] = {**dict.fromkeys(cfg["claims"]), "inf": cfg["claims"]["mish"]}  # others off
    (project / "c.yaml").write_text(_dump(cfg))
    doc = yaml.safe_load((project / "config/claims.yaml").read_text())
    (project / "config/claims.yaml").write_text(_dump({"inf": doc["mish"]}))
    r = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--configfile", "c.yaml",
         "--config", "seed_archive=null", "--", "results/numbers/inf.json"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "-r claim inf " in out and "-p " not in out.split("papermill", 1)[1].split("\n")[0]


def test_a_full_disk_in_the_report_step_names_the_folder_and_the_fix(tmp_path, full_disk):  # noqa: F811
    from nnclaims.report import pdf as report

    big = tmp_path / "fig.png"
    big.write_bytes(b"\0" * 400_000)  # more than the 256 KiB disk holds
    nums = tmp_path / "c.json"
    nums.write_text(json.dumps({"claim": "c", "figures": [{"file": str(big)}]}))
    with pytest.raises(OSError, match="No space left on .* free some space and rerun"):
        report.build(ROOT / "paper/report.typ", [str(nums)], ROOT / "config/claims.yaml",
                     full_disk / "report.pdf", {}, full_disk / "report")  # fmt: skip
