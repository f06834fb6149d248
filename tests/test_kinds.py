"""The experiment-kind registry: every kind a RunSpec may name has one module, found by name."""

import dataclasses
import subprocess
import sys

import pytest
import yaml

from nnclaims import kinds
from nnclaims.core import hparams, testtype
from nnclaims.plan import claims
from nnclaims.report import analysis


def test_every_kind_module_is_found_and_registered():
    assert set(kinds.KINDS) == {
        "classify", "imp", "control", "spectral", "search", "actsearch", "widths", "lottery",
        "crossed",
    }  # fmt: skip
    for name, kind in kinds.KINDS.items():
        assert kind.name == name and kind.doc
        assert kind.train.__module__ == f"nnclaims.kinds.{name}"
    with pytest.raises(ValueError, match="No such run kind: 'prune2'. Known: actsearch"):
        hparams.RunSpec("prune2", "a", ("relu",))


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(
        KeyError, match="No such experiment kind: 'prune2'. Known: actsearch, classify"
    ):
        kinds.get("prune2")


def test_a_kind_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        kinds.register(kinds.KINDS["spectral"])


def test_row_arms_name_the_labels_a_kind_writes():
    search = hparams.RunSpec("search", "best_set", ("relu",), pool=("relu", "tanh"), keep=2)
    assert kinds.get("search").row_arms(search) == ["best_set1", "best_set2"]
    imp = hparams.RunSpec("imp", "imp", ("relu",), prune_rounds=2)
    assert kinds.get("imp").row_arms(imp) == ["dense", "imp"]


def test_a_kinds_own_hyperparameters_read_as_fields_and_keep_old_ids():
    """`widths` moved from RunSpec into the widths kind; a run's id hashes it beside the
    common fields as before, so the run keeps its id (pinned: the id the old RunSpec gave it)."""
    sweep = hparams.RunSpec("widths", "sweep", ("relu",), widths=(2, 4), epochs=3, seeds=(0,))
    assert sweep.widths == (2, 4) and sweep.params == (("widths", (2, 4)),)
    assert sweep.run_id == "widths_8f55f8ebbd8e"
    assert list(sweep.non_defaults()) == ["kind", "arm", "activation", "epochs", "seeds", "widths"]
    # at its default a kind's own hyperparameter is not stored: the id is that of leaving it out
    imp = hparams.RunSpec("imp", "imp", ("relu",), prune_rounds=2, prune_fraction=0.2)
    assert imp.params == (("prune_rounds", 2),) and imp.prune_fraction == 0.2
    assert imp.run_id == hparams.RunSpec("imp", "imp", ("relu",), prune_rounds=2).run_id
    assert hparams.RunSpec.from_dict(imp.to_dict()) == imp


def test_another_kinds_hyperparameter_is_refused_by_name():
    with pytest.raises(ValueError, match="'widths' for a classify run. Its kind's own: none"):
        hparams.RunSpec("classify", "relu", ("relu",), widths=(2,))
    spec = hparams.RunSpec("spectral", "relu", ("relu",), n_points=100)
    with pytest.raises(AttributeError, match="a spectral run has no hyperparameter 'keep'"):
        spec.keep  # noqa: B018
    with pytest.raises(ValueError, match="give params=\\(\\) when changing a run's kind"):
        dataclasses.replace(spec, kind="classify")


def test_a_run_directory_from_before_the_kinds_owned_their_hyperparameters_still_loads():
    """An old hparams.json lists every kind's fields, at their old defaults, as RunSpec's own."""
    old = {**hparams.RunSpec("classify", "relu", ("relu",)).to_dict(), **hparams.LEGACY}
    assert (
        "freqs" in old
        and hparams.RunSpec.from_dict(old).run_id
        == hparams.RunSpec("classify", "relu", ("relu",)).run_id
    )
    with pytest.raises(ValueError, match="'freqs' for a classify run"):
        hparams.RunSpec.from_dict({**old, "freqs": [1, 2]})  # not a default: not dropped


def test_the_plan_side_of_every_kind_imports_without_torch_numpy_or_pandas():
    """A submit host plans with Snakemake alone: kind modules name those lazily."""
    code = (
        "import sys; import nnclaims.plan.runs, nnclaims.kinds, nnclaims.plan.resources, "
        "nnclaims.report.describe, nnclaims.plan.claims; "
        "print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_test_type_is_known_by_name_with_its_kinds_own():
    known = testtype.known()
    assert list(known)[:2] == ["paired", "kendall"]
    widths = {t.name for t in kinds.get("widths").tests}
    assert widths == {"knee", "spread", "past_threshold", "peak"}
    assert {"ranksum", "enrichment"} <= set(known)
    for t in known.values():  # each one computes with a function, not a name in a string
        assert callable(t.values), t.name
    with pytest.raises(testtype.ClaimsError, match="No such test: 'kneee'. Known: paired"):
        testtype.get("kneee")


def test_a_hypothesis_with_an_unknown_test_or_a_kinds_metric_is_refused(tmp_path):
    doc = claims.load()
    bad = tmp_path / "claims.yaml"
    h = doc["width_thresholds"]["hypotheses"][0]
    bad.write_text(yaml.safe_dump({"width_thresholds": {**doc["width_thresholds"],
                   "hypotheses": [{**h, "test": "kneee"}]}}))  # fmt: skip
    with pytest.raises(claims.ClaimsError, match=f"{h['id']}: No such test: 'kneee'"):
        claims.load(bad)
    where = "here"
    with pytest.raises(claims.ClaimsError, match="metric fit_loss comes with test knee, spread"):
        testtype.check_metric(where, {**h, "test": "paired"})


def test_the_report_explains_each_test_type_a_claim_uses_once():
    rows = [{"test": "knee"}, {"test": "knee"}, {"test": "paired"}, {"test": "spread"}]
    notes = analysis.test_notes(rows)
    assert len(notes) == 2 and notes[0].startswith("A knee test (`test: knee`)")
    assert "Spearman" in notes[1]


@pytest.mark.parametrize(
    "module",
    ["plan.checks", "plan.resources", "plan.claims", "report.describe", "stats.testtypes",
     "core.hparams", "core.seeding", "kinds.search", "kinds.widths", "stats.widthsweep",
     "stats.verdicts", "cli", "report.pdf"],
)  # fmt: skip
def test_each_module_imports_first_without_a_cycle(module):
    """The kinds, the plan and the test types import each other at call time: whichever comes
    first must import (a cycle once broke `import nnclaims.plan.checks`)."""
    run = [sys.executable, "-c", f"import nnclaims.{module}"]
    assert subprocess.run(run, capture_output=True, text=True).stderr == ""


def test_a_width_sweeps_flops_are_those_of_its_widths_trained_alone():
    """`nnclaims cost` once crashed on a sweep (one model's input fed to the whole stack)."""
    from nnclaims.plan import resources

    kw = {"epochs": 3, "seeds": (0, 1)}
    sweep = hparams.RunSpec("widths", "sweep", ("relu",), widths=(4, 8), **kw)
    alone = [hparams.RunSpec("classify", "relu", ("relu",), width=w, **kw) for w in (4, 8)]
    total = sum(resources.train_flops(s) for s in alone)
    assert resources.train_flops(sweep) == pytest.approx(total, rel=1e-12) and total > 0
