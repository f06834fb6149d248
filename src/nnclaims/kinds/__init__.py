"""Experiment kinds: one module per kind of run, found by name.

A kind module defines `KIND = Kind(...)` (nnclaims.core.kind): how its runs are planned from a
claim's config, what they cost, how the report describes them, which hyperparameters and random
streams it owns, and how they train. Importing this package imports every module in it (but
`common`, which the kinds share) and registers its kinds, their tests and the two tests every
kind's runs can have (nnclaims.stats.testtypes); adding a kind is adding its module (plus its
config block in the schema and YAML).

The plan imports the kind modules on a submit host that may have only Snakemake: a kind module
imports numpy, pandas, torch and the training code inside the functions that train
(tests/test_submit_host.py).
"""

from __future__ import annotations

import importlib
import pkgutil

from nnclaims.core.kind import (  # noqa: F401 (the registry, read as kinds.get and so on)
    KINDS,
    TUNE_SEED_BASE,
    Job,
    Kind,
    get,
    ordered,
    register,
    summary,
    tune_seeds,
)
from nnclaims.stats import testtypes  # noqa: F401 (registers `paired` and `kendall`)


def _discover() -> None:
    """Import every kind module of this package and register what it defines: `KIND`, or
    `KINDS` (a module with several kinds, e.g. IMP and its controls)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found = getattr(module, "KINDS", None) or [getattr(module, "KIND", None)]
        if found == [None]:
            raise ValueError(
                f"{module.__name__} defines no KIND: a module of nnclaims.kinds is an "
                "experiment kind (shared code goes in kinds/common.py)"
            )
        for kind in found:
            register(kind)


_discover()
