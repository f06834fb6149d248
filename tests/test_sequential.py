"""Group-sequential boundaries and the graphical Holm procedure over looks
(nnclaims.stats.sequential), against independent references: the fixed-sample test, scipy's
bivariate normal, published Lan–DeMets O'Brien–Fleming boundaries, a Monte Carlo of the
normal process, statsmodels' Holm, scipy's t interval; and the familywise rate of wrong
decisions simulated at the margins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from nnclaims.stats import sequential as seq

LOOKS = (5, 8, 12, 16, 20)


def test_one_look_is_the_fixed_sample_test():
    assert seq.boundaries((1.0,), 0.05) == pytest.approx((sps.norm.isf(0.025),), abs=1e-9)
    assert seq.Design((20,)).nominal(0.05) == pytest.approx([0.05], abs=1e-9)


def test_two_looks_against_scipy_bivariate_normal():
    t1, alpha = 0.4, 0.05
    c1, c2 = seq.boundaries((t1, 1.0), alpha)
    spent1 = 2 * float(seq.spend_obf(t1, alpha / 2))
    assert 2 * sps.norm.sf(c1) == pytest.approx(spent1, rel=1e-8)
    mvn = sps.multivariate_normal([0, 0], [[1, np.sqrt(t1)], [np.sqrt(t1), 1]])

    def box(a, b):  # P(|Z1| < a, |Z2| < b)
        return mvn.cdf([a, b]) - mvn.cdf([-a, b]) - mvn.cdf([a, -b]) + mvn.cdf([-a, -b])

    exit2 = (1 - 2 * sps.norm.sf(c1)) - box(c1, c2)
    assert exit2 == pytest.approx(alpha - spent1, abs=2e-5)


def test_equal_looks_match_published_boundaries():
    """Lan–DeMets O'Brien–Fleming spending at equally spaced looks. Five looks, 0.025 a side:
    4.877, 3.357, 2.680, 2.290, 2.031, the boundaries R's ldbounds and gsDesign (sfLDOF) print
    for this design. Four looks, one-sided 0.05 (here 0.05 a side): 3.74955, 2.53993 at the
    first two, as the Julia package SeqBounds documents `bounds([0.25, 0.5, 0.75, 1.0], 0.05)`
    (its later looks differ from a two-sided design's by the other side's crossings)."""
    c = seq.boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.05)
    assert c == pytest.approx((4.877, 3.357, 2.680, 2.290, 2.031), abs=2e-3)
    c = seq.boundaries((0.25, 0.5, 0.75, 1.0), 0.10)
    assert c[:2] == pytest.approx((3.74955, 2.53993), abs=2e-4)


def test_boundaries_spend_alpha_in_a_monte_carlo_of_the_process():
    frac = tuple(n / LOOKS[-1] for n in LOOKS)
    c = np.array(seq.boundaries(frac, 0.05))
    rng = np.random.default_rng(0)
    n = 400_000
    inc = rng.standard_normal((n, len(frac))) * np.sqrt(np.diff((0,) + frac))
    z = np.cumsum(inc, axis=1) / np.sqrt(frac)
    crossed = np.abs(z) >= c
    first = np.where(crossed.any(1), crossed.argmax(1), -1)
    want = 2 * np.diff(np.concatenate([[0], seq.spend_obf(np.array(frac), 0.025)]))
    for k, w in enumerate(want):
        got = np.mean(first == k)
        assert abs(got - w) < 4 * np.sqrt(w * (1 - w) / n) + 1e-5, (k, got, w)


def test_one_look_of_the_graph_is_holm():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(1)
    design = seq.Design((10,))
    for _ in range(40):  # statsmodels' multipletests takes ~50 ms a call here
        p = rng.uniform(0, 0.06, 12) ** rng.uniform(0.5, 2)
        names = [f"h{i}" for i in range(12)]
        state = seq.start(names)
        got = {t for t, _ in seq.look(state, 0, dict(zip(names, p)), design)}
        want = {t for t, r in zip(names, multipletests(p, alpha=0.05, method="holm")[0]) if r}
        assert got == want


def test_paired_p_is_scipys_one_sample_t_test():
    rng = np.random.default_rng(3)
    d = rng.normal(0.3, 1.0, (6, 9))
    want = [sps.ttest_1samp(row, 0.1).pvalue for row in d]
    assert seq.paired_p(d, 0.1) == pytest.approx(want, rel=1e-10)
    assert seq.paired_p(np.array([0.5, 0.5, 0.5]), 0.0) == 0.0
    assert np.isnan(seq.paired_p(np.array([0.5, 0.5]), 0.5))


def test_repeated_ci_at_one_look_is_the_t_interval():
    d = np.array([0.3, -0.1, 0.8, 0.5, 0.2, 0.9])
    lo, hi = seq.repeated_ci(d, 0.05)
    want = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert (lo, hi) == pytest.approx(want, rel=1e-12)


def _family(rng, deltas: np.ndarray, rho: float, design: seq.Design) -> dict:
    """One claim: per test, per-seed paired differences ~ N(delta, 1), tests correlated through
    a shared per-seed component (the arms they share)."""
    m, n = len(deltas), design.looks[-1]
    shared = rng.standard_normal(n)
    d = deltas[:, None] + np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal((m, n))
    names = [f"h{i}" for i in range(m)]
    return seq.run_family(dict(zip(names, d)), dict.fromkeys(names, 0.0), design)


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_familywise_wrong_decisions_at_the_margin(rho):
    """12 tests at their margins, looks at 5, 8, 12, 16, 20 seeds: any decision is wrong; the
    share of claims with one stays within α + 3 Monte Carlo SE. Re-testing each look at 5 %
    (no spending) would decide far more often."""
    design, sims = seq.Design(LOOKS), 3000
    rng = np.random.default_rng(2 + int(10 * rho))
    wrong = [
        any(r["look"] is not None for r in _family(rng, np.zeros(12), rho, design).values())
        for _ in range(sims)
    ]
    rate = float(np.mean(wrong))
    mcse = np.sqrt(0.05 * 0.95 / sims)
    print(f"rho {rho}: familywise wrong-decision rate {rate:.4f} (bound {0.05 + 3 * mcse:.4f})")
    assert rate <= 0.05 + 3 * mcse
    assert rate >= 0.01  # a procedure that never decides would pass the bound above


def test_power_and_seeds_at_a_realistic_effect():
    """Half of a claim's 12 tests 1 SD of the per-seed difference from their margin, half at it:
    the design decides most of the real effects, with fewer seeds on average than its last look,
    and more of them than the fixed 5 seeds with Holm."""
    design, sims = seq.Design(LOOKS), 400
    rng = np.random.default_rng(7)
    deltas = np.r_[np.ones(6), np.zeros(6)]
    power, seeds, fixed = [], [], []
    for _ in range(sims):
        out = _family(rng, deltas, 0.3, design)
        real = [out[f"h{i}"] for i in range(6)]
        power.append(np.mean([r["look"] is not None and r["mean"] > 0 for r in real]))
        seeds.append(np.mean([r["seeds"] for r in out.values()]))
        d5 = {k: v for k, v in _family(rng, deltas, 0.3, seq.Design((5,))).items()}
        fixed.append(np.mean([d5[f"h{i}"]["look"] is not None for i in range(6)]))
    power_, seeds_, fixed_ = float(np.mean(power)), float(np.mean(seeds)), float(np.mean(fixed))
    print(f"power {power_:.3f} (fixed 5 seeds {fixed_:.3f}), mean seeds a test {seeds_:.1f}")
    assert power_ > fixed_ + 0.2
    assert power_ > 0.8
    assert LOOKS[0] < seeds_ < LOOKS[-1]


def test_bad_designs_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        seq.Design((8, 5))
    with pytest.raises(ValueError, match="2 seeds"):
        seq.Design((1, 5))
    with pytest.raises(ValueError, match="increase to 1"):
        seq.boundaries((0.5, 0.9), 0.05)
