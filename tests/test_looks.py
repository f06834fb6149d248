"""The design over a claim's looks (nnclaims.stats.looks): the pipeline's per-look states decide
as the group-sequential core (nnclaims.stats.sequential.run_family, itself checked against
published boundaries, scipy and statsmodels) decides on the same seeds; a decided test's numbers
stay frozen; the fixed design changes no number."""

import numpy as np
import pytest

from nnclaims.stats import looks, sequential, verdicts

LOOKS = [5, 8, 12]


def evaluation(diffs, n, role="primary", equivalence=None):
    """A claim's evaluation on the first n seeds of each test's differences."""
    rows = [
        {"id": t, "dataset": "mnist1d", "text": t, "d": d[:n], "direction": "greater",
         "threshold": 0.0, "untrained": [], "role": role, "a_mean": 0.0, "b_mean": 0.0,
         **({"equivalence": equivalence} if equivalence else {})}
        for t, d in diffs.items()
    ]  # fmt: skip
    return {"hypotheses": verdicts.evaluate_families(rows, 0.05), "alpha": 0.05}


def walk(diffs, design_looks=LOOKS, **kw):
    state, states = None, []
    for k, n in enumerate(design_looks, 1):
        state = looks.look_state(evaluation(diffs, n, **kw), design_looks, k, state)
        states.append(state)
        if not state["continue"]:
            break
    return states


def test_states_decide_as_the_sequential_core():
    rng = np.random.default_rng(3)
    for trial in range(20):
        effects = rng.choice([0.0, 0.5, 1.0, 2.0], size=6)
        diffs = {f"h{i}": rng.normal(e, 1.0, 12) for i, e in enumerate(effects)}
        ref = sequential.run_family(diffs, dict.fromkeys(diffs, 0.0),
                                    sequential.Design(tuple(LOOKS), 0.05))  # fmt: skip
        final = walk(diffs)[-1]
        for t, r in ref.items():
            got = final["tests"][f"{t}|mnist1d"]
            if r["look"] is None:
                assert not got["decided"], (trial, t)
            else:
                assert got["decided"] and got["look"] == r["look"] + 1, (trial, t, got, r)
                assert got["row"]["n"] == r["seeds"]
                assert got["nominal"] == pytest.approx(r["nominal"])
                assert got["row"]["p"] == pytest.approx(r["p"])
                assert got["verdict"] == ("supported" if r["mean"] > 0 else "contradicted")


def test_decided_tests_freeze_and_pass_their_weight():
    rng = np.random.default_rng(0)
    diffs = {"big": rng.normal(5.0, 1.0, 12), "null": rng.normal(0.0, 1.0, 12)}
    first, second = walk(diffs)[:2]
    assert first["tests"]["big|mnist1d"]["decided"] and first["continue"]
    assert "null|mnist1d" in first["why"]
    assert second["tests"]["big|mnist1d"] == first["tests"]["big|mnist1d"]  # frozen at look 1
    assert second["families"]["primary"]["weights"] == {"null|mnist1d|t": 1.0}  # all of α now
    applied = looks.apply(evaluation(diffs, 8)["hypotheses"], second)
    big = next(r for r in applied if r["id"] == "big")
    assert big["n"] == 5 and big["design"]["look"] == 1 and big["verdict"] == "supported"
    lo, hi = big["design"]["rci"]
    assert lo < big["diff"] < hi and hi - lo > big["hi"] - big["lo"]  # wider than 95 %


def test_a_claim_without_growing_tests_stops():
    diffs = {"null": np.random.default_rng(1).normal(0.0, 1.0, 12)}
    ev = evaluation(diffs, 5)
    ev["hypotheses"][0]["n"] = 200  # a test over a search's candidates: seeds do not change it
    state = looks.look_state(ev, LOOKS, 1)
    assert not state["continue"] and "no open test can gain" in state["why"]


def test_a_test_whose_data_are_complete_gets_its_whole_weight_at_the_first_look():
    rng = np.random.default_rng(6)
    diffs = {"search": rng.normal(1.0, 1.0, 12), "seeds": rng.normal(1.0, 1.0, 12)}
    ev = evaluation(diffs, 5)
    for r in ev["hypotheses"]:
        r["p"] = 0.02  # below α/2 = 0.025, far above the first look's O'Brien-Fleming level
    ev["hypotheses"][0]["n"] = 200  # over a search's candidates: more seeds change nothing
    state = looks.look_state(ev, LOOKS, 1)
    assert state["tests"]["search|mnist1d"]["decided"]
    assert state["tests"]["search|mnist1d"]["nominal"] == pytest.approx(0.025)
    assert not state["tests"]["seeds|mnist1d"]["decided"]  # its look-1 level is far below
    first = sequential.Design(tuple(LOOKS), 0.05).nominal(0.05)[0]  # with all of α, after
    assert state["tests"]["seeds|mnist1d"]["nominal"] == pytest.approx(first) and first < 0.002
    assert state["families"]["primary"]["weights"] == {"seeds|mnist1d|t": 1.0}


def test_equivalence_decides_and_retires_the_t_test():
    diffs = {"same": np.random.default_rng(2).normal(0.0, 0.1, 12)}
    states = walk(diffs, equivalence=1.0)
    got = states[-1]["tests"]["same|mnist1d"]
    assert got["decided"] and got["verdict"] == "equivalent" and got["node"] == "equiv"
    fam = states[-1]["families"]["primary"]
    assert "same|mnist1d|t" in fam["retired"] and not fam["weights"]


def test_changed_hypotheses_between_looks_are_refused():
    rng = np.random.default_rng(4)
    diffs = {"a": rng.normal(0, 1, 12), "b": rng.normal(0, 1, 12)}
    state = looks.look_state(evaluation(diffs, 5), LOOKS, 1)
    with pytest.raises(ValueError, match="frozen"):
        looks.look_state(evaluation({"a": diffs["a"]}, 8), LOOKS, 2, state)
    with pytest.raises(ValueError, match="looks changed"):
        looks.look_state(evaluation(diffs, 8), [5, 8, 16], 2, state)


def test_the_fixed_design_changes_no_number():
    rng = np.random.default_rng(5)
    diffs = {f"h{i}": rng.normal(e, 1.0, 5) for i, e in enumerate([0.0, 1.5, 3.0])}
    ev = evaluation(diffs, 5)
    applied = looks.apply(ev["hypotheses"], looks.fixed_state(ev, {"mnist1d": 5}))
    for a, b in zip(applied, ev["hypotheses"]):
        assert {k: v for k, v in a.items() if k != "design"} == b
        assert a["design"] == {"kind": "fixed", "look": 1, "looks": None}
