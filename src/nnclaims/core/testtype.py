"""Test types' base class and registry: how a hypothesis of config/claims.yaml is decided (its
`test:`), found by name.

A test type owns its check against the config's runs (before any job, on a submit host too: no
numpy here), the function that computes it on a claim's table (it imports what it computes with
when the analysis calls it), how the report prints it, and the sentence that explains it.
`paired` (the default) and `kendall` are defined in nnclaims.stats.testtypes; a kind whose runs
have tests of their own defines them in its module (Kind.tests), e.g. the width sweep's knee.
Importing nnclaims.kinds registers all of them.
"""

from __future__ import annotations

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
    # computes one hypothesis on one dataset: (table, hypothesis, dataset, the fields every row
    # has) → the row nnclaims.stats.verdicts decides (LookupError: no such rows)
    values: Callable[[Any, dict, str | None, dict], dict]
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
        return self.values(df, h, dataset, common)

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
    """Every registered test type (importing nnclaims.kinds registers them all)."""
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
