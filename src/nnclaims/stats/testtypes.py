"""The two test types every kind's runs can have: `paired` (the default: a paired difference
over seeds, nnclaims.stats.paired) and `kendall` (do two variants rank the arms alike,
nnclaims.stats.ranking). Importing this module registers them (nnclaims.core.testtype); it
imports no numpy, as the plan reads it on a submit host.
"""

from __future__ import annotations

from typing import Any

from nnclaims.core.testtype import PAIRED, ClaimsError, TestType, register


def _check_ranking(where: str, cid: str, h: dict[str, Any], runs: list) -> None:
    """A kendall test ranks the arms two variants share: at least 3 of them."""
    from nnclaims.core import kind as kinds
    from nnclaims.stats.ranking import variant_pairs

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


def _paired_values(df, h: dict[str, Any], dataset: str | None, common: dict) -> dict:
    from nnclaims.stats.verdicts import paired_values

    return paired_values(df, h, dataset, common)


def _ranking_values(df, h: dict[str, Any], dataset: str | None, common: dict) -> dict:
    from nnclaims.stats.verdicts import ranking_values

    return ranking_values(df, h, dataset, common)


register(TestType(PAIRED, _paired_values))
register(
    TestType(
        "kendall",
        _ranking_values,
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
