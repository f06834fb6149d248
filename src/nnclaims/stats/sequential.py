"""Group-sequential decisions: seeds added in declared looks (say 5, 8, 12, 16, 20), a test
decided at the first look where it crosses its boundary, the familywise error rate held at α
over every look and every test of a claim.

Boundaries. A test's statistic at look k, from n_k of the last look's n_K seeds (information
fraction t_k = n_k / n_K), is read as the canonical joint normal Z_1 … Z_K with
Cov(Z_j, Z_k) = √(t_j / t_k) (Jennison & Turnbull 2000, §3.1). Two-sided symmetric boundaries
c_1 … c_K spend α/2 a side by the O'Brien–Fleming-type function of Lan & DeMets (1983), in the
form of R's gsDesign (sfLDOF) and ldbounds,
    f(t; a) = 2 − 2 Φ(Φ⁻¹(1 − a/2) / √t),   a = α/2,
so that P(|Z_j| < c_j for j < k, |Z_k| ≥ c_k) = 2 (f(t_k) − f(t_{k−1})) at each look
(`boundaries`: the recursive numerical integration of Armitage, McPherson & Rowe 1969, Jennison
& Turnbull ch. 19). A paired t statistic on n_k − 1 degrees of freedom is compared on the
p-value scale: the test crosses at look k when its two-sided p ≤ 2 (1 − Φ(c_k)), the look's
nominal level (Jennison & Turnbull's significance-level approach for an unknown variance).

Family. Holm's procedure over a claim's m tests as a graph (Bretz et al. 2009), run at every
look as Maurer & Bretz (2013) extend it to group-sequential tests: each open test holds a weight
w_i of α (1/m each at the start) and is tested at look k against the nominal level of a design of
level w_i α; a decided test passes its weight to the open ones in equal parts, and the open ones
are tested again at the same look with their larger levels, until no test is decided. A test
still open after the last look is "inconclusive at n_K". The familywise rate of wrong decisions
at the margins is simulated in tests/test_sequential.py.

Repeated confidence intervals (Jennison & Turnbull ch. 9): at look k, mean ± t_{n_k−1}(1 − p_k/2)
· SE, with p_k the nominal level of the test's current α; they cover the mean at every look at
once with probability about 1 − w_i α (normal theory), so the one reported where a test
stopped keeps its level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import optimize
from scipy import stats as sps

GRID = 801  # integration points over a look's continuation region (Simpson's rule)


def spend_obf(t: np.ndarray | float, a: float) -> np.ndarray:
    """Lan–DeMets O'Brien–Fleming-type spending f(t; a): of a one-sided level a, what is spent
    by information fraction t (gsDesign's sfLDOF)."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2 - 2 * sps.norm.cdf(sps.norm.isf(a / 2) / np.sqrt(t)), 0.0)


def _simpson(n: int) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return w / 3


@lru_cache(maxsize=256)
def boundaries(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """Two-sided symmetric z boundaries c_1 … c_K spending α/2 a side by `spend_obf` at `fractions`
    (increasing, the last 1). Works on the score scale S_k = Z_k √t_k, whose increments are
    independent N(0, t_k − t_{k−1}): the sub-density of S on the continuation region is carried
    from look to look on a grid and each c_k solves exit probability = α spent at look k."""
    t = np.asarray(fractions, dtype=float)
    if len(t) == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or abs(t[-1] - 1) > 1e-12:
        raise ValueError(f"information fractions must increase to 1: {fractions}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} is not in (0, 1)")
    spent = 2 * np.diff(np.concatenate([[0.0], spend_obf(t, alpha / 2)]))  # both sides
    out: list[float] = []
    s = dens = None  # grid and sub-density of S_{k-1} on the continuation region
    for k, (tk, a_k) in enumerate(zip(t, spent)):
        if k == 0:
            c = sps.norm.isf(a_k / 2)
        else:
            sd = np.sqrt(tk - t[k - 1])
            w = _simpson(len(s)) * (s[1] - s[0]) * dens
            c = optimize.brentq(_exit_gap, 0.1, 40.0, args=(s, w, sd, tk, a_k), xtol=1e-10)
        out.append(float(c))
        b = c * np.sqrt(tk)
        s_new = np.linspace(-b, b, GRID)
        if k == 0:
            dens = sps.norm.pdf(s_new / np.sqrt(tk)) / np.sqrt(tk)
        else:
            w = _simpson(len(s)) * (s[1] - s[0]) * dens
            dens = sps.norm.pdf((s_new[:, None] - s[None, :]) / sd) @ w / sd
        s = s_new
    return tuple(out)


def _exit_gap(c: float, s: np.ndarray, w: np.ndarray, sd: float, tk: float, a_k: float) -> float:
    """P(no crossing before look k, then |S_k| ≥ c √t_k) − a_k: S_{k−1} on grid s with
    integration weights w (its sub-density on the continuation region included), the increment
    to S_k N(0, sd²)."""
    b = c * np.sqrt(tk)
    return float(w @ (sps.norm.cdf((-b - s) / sd) + sps.norm.sf((b - s) / sd))) - a_k


@dataclass(frozen=True)
class Design:
    """Seeds at each look (increasing) and the familywise α of a claim."""

    looks: tuple[int, ...]
    alpha: float = 0.05
    _levels: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if len(self.looks) < 1 or any(b <= a for a, b in zip(self.looks, self.looks[1:])):
            raise ValueError(f"looks must be increasing seed counts: {list(self.looks)}")
        if self.looks[0] < 2:
            raise ValueError(f"the first look needs 2 seeds or more for a t-test: {self.looks}")

    @property
    def fractions(self) -> tuple[float, ...]:
        return tuple(n / self.looks[-1] for n in self.looks)

    def nominal(self, alpha: float) -> np.ndarray:
        """Two-sided nominal p-value levels per look of a design of level `alpha`."""
        key = round(alpha, 15)
        if key not in self._levels:
            c = np.array(boundaries(self.fractions, alpha))
            self._levels[key] = 2 * sps.norm.sf(c)
        return self._levels[key]


def paired_p(d: np.ndarray, margin: np.ndarray | float) -> np.ndarray:
    """Two-sided p of the one-sample t-test of mean(d) == margin along d's last axis (NaN under
    2 values; with zero spread 0.0 off the margin and NaN on it), as stats.paired.paired_p."""
    d = np.asarray(d, dtype=float)
    n = d.shape[-1]
    if n < 2:
        return np.full(d.shape[:-1], np.nan)
    gap = d.mean(-1) - margin
    sd = d.std(-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.t.sf(np.abs(gap / (sd / np.sqrt(n))), n - 1)
    return np.where(sd > 0, p, np.where(gap == 0, np.nan, 0.0))


@dataclass
class Open:
    """The family's state between looks: each open test's weight, and the decided ones."""

    weights: dict[str, float]
    decided: dict[str, int] = field(default_factory=dict)  # test -> index of its look


def start(tests: list[str]) -> Open:
    return Open({t: 1 / len(tests) for t in tests})


def level(design: Design, weight: float, k: int, complete: bool = False) -> float:
    """A test's nominal level at look k (0-based) with this weight of α: the design's, or for a
    test whose data are complete from the first look (its statistic is the same at every look,
    e.g. a test over a search's candidates) the whole weight, weight · α, as a one-look test."""
    return weight * design.alpha if complete else float(design.nominal(weight * design.alpha)[k])


def look(
    state: Open,
    k: int,
    pvalues: dict[str, float],
    design: Design,
    complete: frozenset[str] | set[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Look k (0-based) of the graphical Holm procedure: decides every open test whose p
    crosses its current level (`level`; `complete`: the tests whose data do not grow), passing
    the weight of each decided test to the open ones in equal parts, until none crosses.
    Returns the tests decided here, each with the weight it held then (state updated)."""
    now: list[tuple[str, float]] = []
    while True:
        held = dict(state.weights)
        hit = [
            t
            for t, w in held.items()
            if np.isfinite(p := pvalues.get(t, np.nan)) and p <= level(design, w, k, t in complete)
        ]
        if not hit:
            return now
        for t in hit:
            w = state.weights.pop(t)
            state.decided[t] = k
            now.append((t, held[t]))  # the weight it crossed at
            for o in state.weights:
                state.weights[o] += w / len(state.weights)


def repeated_ci(d: np.ndarray, nominal_p: float) -> tuple[float, float]:
    """mean ± t_{n−1}(1 − nominal_p / 2) · SE: the repeated confidence interval at a look."""
    d = np.asarray(d, dtype=float)
    half = sps.t.isf(nominal_p / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def run_family(diffs: dict[str, np.ndarray], margins: dict[str, float], design: Design) -> dict:
    """The whole design on each test's paired differences (seeds in order; at least the last
    look's count): per test, the look it stopped at (None: open at the end), the seeds it used,
    the nominal level it crossed and its repeated CI there (or at the last look)."""
    state = start(list(diffs))
    out: dict[str, dict] = {}
    for k, n in enumerate(design.looks):
        names = list(state.weights)
        block = np.array([diffs[t][:n] for t in names]).reshape(len(names), n)
        ps = dict(zip(names, paired_p(block, np.array([margins[t] for t in names]))))
        for t, w in look(state, k, ps, design):
            nominal = design.nominal(w * design.alpha)[k]
            out[t] = {"look": k, "seeds": n, "nominal": nominal, "p": float(ps[t]),
                      "mean": float(np.mean(diffs[t][:n])),
                      "rci": repeated_ci(diffs[t][:n], nominal)}  # fmt: skip
    n = design.looks[-1]
    for t, w in state.weights.items():
        nominal = design.nominal(w * design.alpha)[-1]
        d = diffs[t][:n]
        out[t] = {"look": None, "seeds": n, "nominal": nominal, "mean": float(np.mean(d)),
                  "p": float(paired_p(d, margins[t])), "rci": repeated_ci(d, nominal)}  # fmt: skip
    return out
