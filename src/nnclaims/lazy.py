"""Modules imported on first use.

A kind module (nnclaims.kinds) holds its planning hooks beside its training code. The plan
imports every kind module, also on a submit host with Snakemake alone (no torch, numpy or pandas:
tests/test_submit_host.py), so a kind module names the heavy modules it trains with as
`np = lazy("numpy")`: nothing is imported until a run trains and reads an attribute.
"""

from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands for the module `name`: every attribute read is passed to it, imported on the
    first (nothing is copied, so a test that patches the module is seen here too)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__dict__["_lazy_target"]), attr)


def lazy(name: str) -> types.ModuleType:
    """`name` imported when first used (an absolute module name, e.g. "nnclaims.engine")."""
    return LazyModule(name)
