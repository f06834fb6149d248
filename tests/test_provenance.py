"""Runs know their code: hparams.json records commit, dirty flag with a diff hash, the
dataset's checksum and the learning rates used; the report summarises the runs' code versions
and `nnclaims stale` finds (and removes) runs made by other code."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from nnclaims import cli
from nnclaims.core import provenance
from nnclaims.core.hparams import RunSpec
from nnclaims.data import datasets as data
from nnclaims.run import experiments


def test_a_run_records_its_code_data_and_the_lr_it_used(tmp_path):
    raw = data.get_maker("digits")()
    np.savez(tmp_path / "digits.npz", **raw)
    spec = RunSpec("classify", "relu", ("relu",), dataset="digits", depth=1, width=8, epochs=1,
                   seeds=(0, 1), lr_grid=(0.01, 0.03), tune_seeds=1)  # fmt: skip
    experiments.run(spec, tmp_path / "run", data_path=tmp_path / "digits.npz")
    meta = json.loads((tmp_path / "run" / "hparams.json").read_text())
    want = hashlib.sha256((tmp_path / "digits.npz").read_bytes()).hexdigest()
    assert meta["data_sha256"] == want
    assert len(meta["lr_used"]) == 1 and meta["lr_used"][0] in (0.01, 0.03)
    git = meta["provenance"]["git"]
    assert set(git) >= {"commit", "dirty", "diff_sha256"}
    assert (git["diff_sha256"] is not None) == bool(git["dirty"])


def test_code_summary_warns_on_mixed_or_dirty_code():
    a = {"commit": "a" * 40, "dirty": False, "diff_sha256": None}
    b = {"commit": "b" * 40, "dirty": True, "diff_sha256": "f00"}
    same = provenance.code_summary([a, a], a)
    assert same["warning"] == "" and same["versions"] == [{"version": "a" * 12, "runs": 2}]
    mixed = provenance.code_summary([a, b], a)
    assert "2 code versions" in mixed["warning"] and "uncommitted" in mixed["warning"]
    # seeds from the seed archive come from an older commit by design: listed apart, no warning
    archived = {"commit": "e" * 40, "dirty": False, "diff_sha256": None, "archived_from": "x"}
    apart = provenance.code_summary([a, a, archived], a)
    assert apart["warning"] == "" and apart["versions"] == same["versions"]
    assert apart["archived"] == [{"version": "e" * 12, "runs": 1}]


def test_stale_lists_and_removes_runs_of_other_code(tmp_path, monkeypatch, capsys):
    tmp_path = tmp_path / "runs"
    tmp_path.mkdir()
    now = {"commit": "c" * 40, "dirty": False, "diff_sha256": None}
    old = {"commit": "d" * 40, "dirty": False, "diff_sha256": None}
    for name, git in (("classify_new", now), ("classify_old", old)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "hparams.json").write_text(json.dumps({"provenance": {"git": git}}))
    rep = tmp_path.parent / "replicates" / "classify_x"
    rep.mkdir(parents=True)
    for s, git in ((0, now), (1, old)):
        (rep / f"seed_{s}.json").write_text(json.dumps({"git": git}))
        (rep / f"seed_{s}.parquet").write_text("rows")
    # a seed copied from the seed archive is older by design, and not stale
    (rep / "seed_2.json").write_text(json.dumps({"git": old, "archived_from": "archive/x"}))
    (rep / "seed_2.parquet").write_text("rows")
    monkeypatch.setattr(provenance, "git_state", lambda *a: now)
    assert [d.name for d, _ in cli.stale_runs(tmp_path, now)] == ["classify_old", "seed_1.json"]
    monkeypatch.chdir(cli.Path(__file__).parents[1])
    assert cli.main(["stale", "--runs", str(tmp_path), "--remove", "--yes"]) == 0
    assert "2 run(s) removed" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classify_new"]
    assert sorted(p.name for p in rep.iterdir()) == [
        "seed_0.json", "seed_0.parquet", "seed_2.json", "seed_2.parquet"
    ]  # fmt: skip


def test_a_claims_setup_says_how_many_of_its_seeds_came_from_the_seed_archive():
    from nnclaims.report.pdf import archive_note

    trained = {"commit": "a" * 40, "dirty": False}
    copied = {"commit": "21d4a0f295da", "dirty": False, "archived_from": "archive/imp_x"}
    assert archive_note([trained, trained]) == ""
    note = archive_note([trained, copied, copied])
    assert "2 of the 3 seeds of this claim's runs were copied from the seed archive" in note
    assert "trained by commit 21d4a0f;" in note
