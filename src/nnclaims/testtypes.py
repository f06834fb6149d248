"""Test types: how a hypothesis of config/claims.yaml is decided (its `test:`), found by name.

A test type owns its check against the config's runs (before any job, on a submit host too: no
numpy here), the function that computes it on a claim's table (named "module:function" and
imported when the analysis runs), how the report prints it, and the sentence that explains it.
`paired` (the default) and `kendall` are defined here; a kind whose runs have tests of their
own defines them in its module (nnclaims.kinds: Kind.tests), e.g. the width sweep's knee.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PAIRED = "paired"


class ClaimsError(ValueError):
    """config/claims.yaml is invalid, or does not fit the config's runs."""


@dataclass(frozen=True)
class TestType:
    __test__ = False  # not a pytest test class

    name: str
    # "module:function" computing one hypothesis on one dataset: (table, hypothesis, dataset,
    # the fields every row has) → the row nnclaims.verdicts decides (LookupError: no such rows)
    values: str
    # (where, claim id, hypothesis, the claim's runs) → raises ClaimsError naming the problem
    check: Callable[[str, str, dict, list], None] | None = None
    selects_arms: bool = True  # its sides name arms: the arm, size and level checks apply
    side_key: str = "arm"  # what each side names when it selects arms ("variant": kendall)
    metrics: tuple[str, ...] = ()  # metrics only tests of its kind read (that kind's rows)
    whole_table: bool = False  # reads the validation rows too (an activation search's)
    missing: str = ""  # why it is not tested when no dataset has its rows
    # the report's columns: the statistic against the margin (row, ">" or "<"), and what was
    # measured (None: the means of a and b); `says_note`: that text already gives the row's note
    statistic: Callable[[dict, str], str] | None = None
    measured: Callable[[dict], str | None] | None = None
    says_note: bool = False
    note: str = ""  # the report's explanation (Typst markup), printed once per claim using it

    def compute(self, df: Any, h: dict, dataset: str | None, common: dict) -> dict:
        module, function = self.values.split(":")
        return getattr(importlib.import_module(module), function)(df, h, dataset, common)

    def test_column(self, r: dict, sign: str) -> str:
        if self.statistic is not None:
            return self.statistic(r, sign)
        return f"a − b {sign} {r['threshold']:g}"


TESTS: dict[str, TestType] = {}


def register(t: TestType) -> TestType:
    if t.name in TESTS:
        raise ValueError(f"test type {t.name!r} is registered twice")
    TESTS[t.name] = t
    return t


def known() -> dict[str, TestType]:
    """Every test type, the kinds' included."""
    from . import kinds  # its discovery registers the kinds' tests; it imports this module

    assert kinds.KINDS
    return TESTS


def get(name: str) -> TestType:
    tests = known()
    if name not in tests:
        raise ClaimsError(f"No such test: {name!r}. Known: {', '.join(tests)}")
    return tests[name]


def of(h: dict[str, Any]) -> TestType:
    """The test type that decides hypothesis `h` (`paired` when it names none)."""
    return get(h.get("test", PAIRED))


def check_metric(where: str, h: dict[str, Any]) -> TestType:
    """`h`'s test type, after checking its metric: a metric only some tests read (an
    activation search's val_acc, a width sweep's fit_loss) goes with one of them."""
    try:
        t = of(h)
    except ClaimsError as e:
        raise ClaimsError(f"{where}: {e}") from None
    readers = [x.name for x in known().values() if h["metric"] in x.metrics]
    if readers and t.name not in readers:
        raise ClaimsError(
            f"{where}: metric {h['metric']} comes with test {', '.join(readers)}: give one"
        )
    return t


def _check_ranking(where: str, cid: str, h: dict[str, Any], runs: list) -> None:
    """A kendall test ranks the arms two variants share: at least 3 of them."""
    from . import kinds
    from .ranking import variant_pairs

    if "b" not in h:
        raise ClaimsError(f"{where}: test kendall compares two variants: give a and b")
    ta, tb = h["a"].get("variant"), h["b"].get("variant")
    if ta is None or tb is None:
        return  # the side check names the missing `variant`
    trained = [s for s in runs if kinds.get(s.kind).needs_data]  # not the spectral probe's
    arms = list(dict.fromkeys(a for s in trained for a in kinds.get(s.kind).row_arms(s)))
    pairs = variant_pairs(arms, ta, tb)
    if len(pairs) < 3:
        raise ClaimsError(
            f"{where}: test kendall ranks the arms run in both variant {ta!r} and variant "
            f"{tb!r} ('' is the claim's own arms); the config runs {len(pairs)} such pairs "
            f"(its arms: {', '.join(arms)}), at least 3 are needed"
        )


register(TestType(PAIRED, "nnclaims.verdicts:paired_values"))
register(
    TestType(
        "kendall",
        "nnclaims.verdicts:ranking_values",
        check=_check_ranking,
        side_key="variant",
        statistic=lambda r, sign: f"mean τ-b {sign} {r['threshold']:g} (t-test over seeds)",
        measured=lambda r: f"mean τ-b {r['diff']:.2f} over {len(r['arms'])} arms",
        note="A ranking test (`test: kendall`) gives, in place of mean d, the mean over seeds of "
        "Kendall's τ-b between the two rankings within a seed, with its t-interval and the "
        "one-sample t-test's p; the τ-b of the arms' mean values is printed beside it and "
        "decides nothing.",
    )
)
