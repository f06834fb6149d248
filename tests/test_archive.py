"""The seed archive (config seed_archive, nnclaims.run.replicates.import_archived): seeds trained
earlier and kept with the repository are copied, not trained, when they were made from the same
data file; the default run's archived lottery seeds are what today's code makes from today's
data (recomputed here for the first two rounds of one trial)."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from nnclaims import cli
from nnclaims.core.hparams import RunSpec
from nnclaims.data import datasets as data
from nnclaims.kinds import Job, actsearch, control, imp, lottery, search, widths
from nnclaims.plan import runs as plan
from nnclaims.run import experiments, replicates

SMALL = dict(dataset="digits", depth=1, width=8, epochs=2, batch_size=50)
KEYS = ["arm", "level", "seed", "epoch", "split", "metric"]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values(KEYS).reset_index(drop=True)
    b = b.sort_values(KEYS).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    assert np.array_equal(a["value"].to_numpy(), b["value"].to_numpy(), equal_nan=True)


def _meta(out) -> dict:
    return json.loads((out / "hparams.json").read_text())["replicates"]


def _archive_of(tmp_path, spec, digits) -> tuple:
    """Train the run's seeds once and keep their store folder as an archive (a plain copy;
    `nnclaims archive` is tested below); returns (archive root, the rows)."""
    made = tmp_path / "made"
    df = experiments.run(spec, made / "run", digits, replicates=made / "replicates")
    key = replicates.key(spec)
    (tmp_path / "archive").mkdir()
    shutil.copytree(made / "replicates" / key, tmp_path / "archive" / key)
    replicates.index_folder(tmp_path / "archive", tmp_path / "archive" / key)
    return tmp_path / "archive", df


def test_archived_seeds_are_copied_and_say_so_missing_ones_train(tmp_path, digits, caplog):
    spec = RunSpec("classify", "relu", ("relu",), seeds=(0, 1), **SMALL)
    archive, want = _archive_of(tmp_path, spec, digits)
    wider = RunSpec("classify", "relu", ("relu",), seeds=(0, 1, 2), **SMALL)
    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    got = experiments.run(wider, out, digits, replicates=tmp_path / "replicates", archive=archive)
    assert "seeds [0, 1] copied from the seed archive" in caplog.text
    assert "to train: [2]" in caplog.text
    _same(got[got["seed"] < 2], want)
    meta = _meta(out)
    assert meta["0"]["archived_from"] == str(archive / replicates.key(spec))
    assert "archived_from" not in meta["2"]
    assert meta["0"]["trained_in"] == meta["1"]["trained_in"] != meta["2"]["trained_in"]
    # the archive is read, never written
    assert sorted(p.name for p in (archive / replicates.key(spec)).iterdir()) == sorted(
        f"seed_{s}.{e}" for s in (0, 1) for e in ("json", "parquet", "safetensors")
    )


def test_seed_archive_kinds_trains_the_kinds_it_leaves_out(tmp_path, digits, caplog):
    """`seed_archive_kinds: [lottery]` (the fully trained default, docs/performance.md): a
    classify run's archived seeds train in the run, to the numbers the archive holds."""
    spec = RunSpec("classify", "relu", ("relu",), seeds=(0, 1), **SMALL)
    archive, want = _archive_of(tmp_path, spec, digits)
    cfg = {"seed_archive": str(archive), "seed_archive_kinds": ["lottery"]}
    assert replicates.archive_for(cfg, "classify") is None
    assert replicates.archive_for(cfg, "lottery") == str(archive)
    assert replicates.archive_for({"seed_archive": str(archive)}, "classify") == str(archive)
    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    got = experiments.run(
        spec, out, digits, replicates=tmp_path / "replicates",
        archive=replicates.archive_for(cfg, spec.kind),
    )  # fmt: skip
    assert "copied from the seed archive" not in caplog.text
    assert "to train: [0, 1]" in caplog.text
    assert not any("archived_from" in m for m in _meta(out).values())
    _same(got, want)


def test_seed_archive_kinds_names_only_registered_kinds(monkeypatch):
    from nnclaims import kinds

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"]["seed_archive_kinds"]["items"]["enum"]
    assert sorted(enum) == sorted(kinds.KINDS)
    monkeypatch.chdir(ROOT)
    with pytest.raises(cli.ConfigError, match="seed_archive_kinds"):
        cli.load_config("config/config.yaml", None, None, ["seed_archive_kinds=[lotery]"])
    cfg = cli.load_config("config/config.yaml", None, None, ["seed_archive_kinds=[lottery]"])
    assert cfg["seed_archive_kinds"] == ["lottery"]


def test_archived_seeds_of_other_data_train_again(tmp_path, digits, caplog):
    spec = RunSpec("classify", "relu", ("relu",), seeds=(0, 1), **SMALL)
    archive, want = _archive_of(tmp_path, spec, digits)
    other = tmp_path / "other.npz"
    arrays = data.get_maker("digits")()
    arrays["y_train"] = arrays["y_train"][::-1].copy()  # same shapes, other labels
    np.savez(other, **arrays)
    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    got = experiments.run(spec, out, other, replicates=tmp_path / "replicates", archive=archive)
    assert "were made from other data" in caplog.text and "to train: [0, 1]" in caplog.text
    assert not any("archived_from" in m for m in _meta(out).values())
    assert not np.array_equal(got["value"].to_numpy(), want["value"].to_numpy())


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> dict:
    """Both embedded datasets as the files the default run makes."""
    root = tmp_path_factory.mktemp("data")
    for ds in ("mnist1d", "digits"):
        data.prepare(ds, root / f"{ds}.npz")
    return {ds: root / f"{ds}.npz" for ds in ("mnist1d", "digits")}


@pytest.fixture(scope="module")
def mnist1d(data_files):
    return data_files["mnist1d"]


# the kinds whose runs the default run copies from the seed archive (archive/README.md)
ARCHIVED_KINDS = ("lottery", "widths", "imp", "control", "search", "actsearch")


def _default_archived(kind: str | None = None) -> tuple:
    cfg = cli.load_config("config/config.yaml", None, None)
    kinds = (kind,) if kind else ARCHIVED_KINDS
    return cfg, [s for s in plan.make_plan(cfg).runs.values() if s.kind in kinds]


def _default_lottery() -> tuple:
    cfg, (spec,) = _default_archived("lottery")
    return cfg, spec


def test_the_default_runs_archived_seeds_are_all_there_for_todays_data(data_files):
    """Should this fail, a recipe, a kind's rows or the data changed: train the runs again
    (seed_archive: null) and archive the new seeds (archive/README.md)."""
    cfg, specs = _default_archived()
    assert {s.kind for s in specs} == set(ARCHIVED_KINDS)
    refresh = "retrain and archive them: archive/README.md"
    for spec in specs:
        store = replicates.Store(cfg["seed_archive"], spec)
        lacks = store.missing(spec.seeds)
        assert lacks == [], f"{store.dir} lacks seeds {lacks} of {spec.run_id}; {refresh}"
        sha = replicates.file_sha256(data_files[spec.dataset])
        for s in spec.seeds:
            meta = json.loads(store._f(s, "json").read_text())
            other = f"{store.dir}: seed {s} was made from other data; {refresh}"
            assert meta["data_sha256"] == sha, other
            assert not meta["git"]["dirty"]
    # and nothing else: a folder no run reads is a stale key left behind by a refresh
    folders = {p.name for p in Path(cfg["seed_archive"]).iterdir() if p.is_dir()}
    assert folders == {replicates.key(s) for s in specs}, "git rm the folders of old keys"


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_archived_width_sweeps_are_what_the_code_makes(data_files, dataset):
    """Epochs 1-2 of seed 0 of each default width sweep (every width, clean and noisy labels),
    trained now, equal the archived rows bit for bit."""
    cfg, specs = _default_archived("widths")
    specs = [s for s in specs if s.dataset == dataset]
    assert len(specs) == 2  # clean and noisy labels
    for spec in specs:
        short = dataclasses.replace(spec, seeds=(0,), epochs=2)
        dev = experiments.setup(short, 1, "cpu")  # the run's determinism settings
        arrays = experiments.load_data([short], data_files[dataset])  # seed 0's own draw
        got, _ = widths.job(short, Job(device=dev, arrays=arrays))
        per_epoch = ["train_loss", "test_loss", "test_acc"]
        got = got[got["metric"].isin(per_epoch)]
        archived = replicates.Store(cfg["seed_archive"], spec).rows([0])
        archived = archived[archived["metric"].isin(per_epoch) & (archived["epoch"] <= 2)]
        assert len(got) == 2 * 3 * len(spec.widths) and set(got["epoch"]) == {1, 2}
        _same(got, archived)


def test_archived_lottery_rows_are_what_the_code_makes(mnist1d, monkeypatch):
    """Rounds 0 and 1 (dense, then 1 % pruned) of trial 0, trained now, bit for bit."""
    cfg, spec = _default_lottery()
    experiments.setup(spec, 1, "cpu")  # the run's determinism settings
    full = lottery.sparsities
    monkeypatch.setattr(lottery, "sparsities", lambda r: full(r)[:2])
    one = dataclasses.replace(spec, seeds=(0,))
    got = lottery.run_lottery(one, data.load_arrays(mnist1d))
    archived = replicates.Store(cfg["seed_archive"], spec).rows([0])
    archived = archived[archived["level"].isin(got["level"].unique())]
    assert len(got) > 0 and set(got["arm"]) == {"lottery_dense", "lottery"}
    _same(got, archived)


def _epochs_1_2(got: pd.DataFrame, archived: pd.DataFrame, arms) -> None:
    """The rows of `arms` at epochs 1-2, trained now, equal the archived ones bit for bit."""
    once = ["diverged_epoch", "weights_kept"]  # one row per model, at the run's last epoch
    got = got[got["arm"].isin(arms) & got["epoch"].isin([1, 2]) & ~got["metric"].isin(once)]
    archived = archived[
        archived["arm"].isin(arms)
        & archived["epoch"].isin([1, 2])
        & archived["metric"].isin(got["metric"].unique())
        & archived["seed"].isin(got["seed"].unique())
        & archived["level"].isin(got["level"].unique())
    ]
    assert len(got) > 0 and set(got["arm"]) == set(arms)
    _same(got, archived)


def _stored(cfg, spec) -> pd.DataFrame:
    """Seed 0's archived rows, its validation rows (kept with the setup's search) included."""
    store = replicates.Store(cfg["seed_archive"], spec)
    val = store.search()
    val = None if val is None else val[val["seed"] == 0]
    return pd.concat([store.rows([0]), val], ignore_index=True)


def _arrays(data_files, spec):
    """What the run read: seed 0's own draw, and its tuning seeds' (the searches)."""
    experiments.setup(spec, 1, "cpu")  # the run's determinism settings
    return experiments.load_data([dataclasses.replace(spec, seeds=(0,))], data_files[spec.dataset])


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_archived_imp_and_control_rows_are_what_the_code_makes(data_files, dataset, tmp_path):
    """Seed 0: epochs 1-2 of IMP's dense round; of the reinit and random controls at the first
    pruned level, on the archived trunk's masks; of control long's ticket and controls at its
    first pruned round. Each trained now, bit for bit."""
    cfg, specs = _default_archived()
    specs = [s for s in specs if s.dataset == dataset]
    (trunk,) = [s for s in specs if s.kind == "imp"]
    arrays = _arrays(data_files, trunk)
    short = dataclasses.replace(trunk, seeds=(0,), epochs=2, prune_rounds=0)
    got = imp.run_imp(short, arrays, tmp_path / "masks.npz")
    _epochs_1_2(got, _stored(cfg, trunk), ["dense"])
    masks = tmp_path / "trunk.npz"  # the archived trunk's masks of seed 0
    np.savez(masks, **replicates.Store(cfg["seed_archive"], trunk).masks([0]))
    controls = [s for s in specs if s.kind == "control"]
    assert {c.control for c in controls} == {"reinit", "random", "long"}
    for ctl in controls:
        first = [r for r in control.control_groups(ctl) if r[1] > 0][0][1]  # its first pruned round
        one = dataclasses.replace(ctl, seeds=(0,), epochs=2, control_rounds=(first,))
        got = control.run_control(one, arrays, masks, mask_seeds=[0])
        arms = sorted(set(got["arm"]))
        _epochs_1_2(got, _stored(cfg, ctl), arms)


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_archived_set_search_is_what_the_code_makes(data_files, dataset):
    """The first two candidate sets' validation scores (both search seeds, every epoch of the
    search), and epochs 1-2 of the kept sets at both sizes for seed 0 (ranked from the archived
    candidates), trained now, bit for bit."""
    cfg, specs = _default_archived("search")
    (spec,) = [s for s in specs if s.dataset == dataset]
    arrays = _arrays(data_files, spec)
    store = replicates.Store(cfg["seed_archive"], spec)
    cands = search.candidate_sets(spec)[:2]
    scores = search._candidate_scores(spec, arrays, cands, None, "cpu", None)
    stored = store.search()
    want = np.concatenate(
        [stored[stored["arm"] == f"cand:{search.set_name(c)}"].sort_values("seed")["value"]
         for c in cands]
    )  # fmt: skip
    assert len(want) == len(scores) == 2 * spec.tune_seeds
    assert np.array_equal(scores, want, equal_nan=True)
    short = dataclasses.replace(spec, seeds=(0,), epochs=2)
    got = search.run_search(short, arrays, searched=stored)
    arms = [f"best_set{i + 1}" for i in range(spec.keep)]
    _epochs_1_2(got, _stored(cfg, spec), arms)
    assert set(got[got["arm"].isin(arms)]["size"]) == {spec.depth, spec.large_depth}


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_archived_activation_search_is_what_the_code_makes(data_files, dataset):
    """Three sampled functions' validation scores (the search's epochs), and epochs 1-2 of the
    found arms for seed 0 at the lr their archived search picked, trained now, bit for bit."""
    cfg, specs = _default_archived("actsearch")
    (spec,) = [s for s in specs if s.dataset == dataset]
    arrays = _arrays(data_files, spec)
    store = replicates.Store(cfg["seed_archive"], spec)
    stored = store.search()
    fns = actsearch.candidates(spec)[:3]
    scores = actsearch._scores(spec, arrays, fns, None, "cpu")
    want = [stored[stored["arm"] == f"{actsearch.CAND}{f}"]["value"].item() for f in fns]
    assert np.array_equal(scores, np.array(want), equal_nan=True)
    short = dataclasses.replace(spec, seeds=(0,), epochs=2)
    got = actsearch.run_actsearch(short, arrays, searched=stored)
    _epochs_1_2(got, _stored(cfg, spec), [f"found{i + 1}" for i in range(spec.keep)])


def test_a_seed_archive_that_is_not_there_is_a_config_error(tmp_path, monkeypatch):
    """Else the default run would quietly train the lottery trials (an hour)."""
    with pytest.raises(cli.ConfigError, match="seed_archive: 'nowhere' is not a folder"):
        cli.load_config("config/config.yaml", None, None, ["seed_archive=nowhere"])
    assert (
        cli.load_config("config/config.yaml", None, None, ["seed_archive=null"])["seed_archive"]
        is None
    )


def test_nnclaims_archive_copies_a_configs_stored_seeds_and_refuses_dirty_ones(
    tmp_path, mnist1d, monkeypatch
):
    """`nnclaims archive --kind lottery` (archive/README.md's refresh step) on the test config's
    tiny lottery run: the archive then fills a fresh store with the same rows."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    results = tmp_path / "results"
    cfg = cli.load_config("config/test.yaml", None, None, [f"results={results}"])
    (spec,) = [s for s in plan.make_plan(cfg).runs.values() if s.kind == "lottery"]
    want = experiments.run(spec, tmp_path / "run", mnist1d, replicates=results / "replicates")
    key = replicates.key(spec)

    def mark(seed: int, dirty: bool) -> None:  # as if trained from a clean tree, or not
        rec = results / "replicates" / key / f"seed_{seed}.json"
        meta = json.loads(rec.read_text())
        rec.write_text(json.dumps({**meta, "git": {**meta["git"], "dirty": dirty}}))

    for s in spec.seeds:  # this checkout may have uncommitted changes while tests run
        mark(s, False)
    args = ["archive", "--config", "config/test.yaml", "--set", f"results={results}"]
    to = tmp_path / "arch"
    assert cli.main([*args, "--kind", "lottery", "--to", str(to)]) == 0
    assert sorted(p.name for p in (to / key).iterdir()) == sorted(
        f"seed_{s}.{e}" for s in spec.seeds for e in ("json", "parquet")
    )  # no weights unless asked
    got = experiments.run(
        spec, tmp_path / "again", mnist1d, replicates=tmp_path / "fresh", archive=to
    )
    _same(got, want)
    assert all("archived_from" in m for m in _meta(tmp_path / "again").values())
    # a seed trained with uncommitted changes names no commit: not archived
    mark(0, True)
    assert cli.main([*args, "--kind", "lottery", "--to", str(tmp_path / "arch2")]) == 2
    assert cli.main([*args, "nowhere_123", "--to", str(tmp_path / "arch2")]) == 2
