"""The experiment-kind registry: every kind a RunSpec may name has one module, found by name."""

import pytest

from nnclaims import hparams, kinds


def test_every_runspec_kind_is_registered_and_nothing_else():
    assert set(kinds.KINDS) == set(hparams.KINDS)
    for name, kind in kinds.KINDS.items():
        assert kind.name == name and kind.doc
        assert kind.train.__module__ == f"nnclaims.kinds.{'imp' if name == 'control' else name}"


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
