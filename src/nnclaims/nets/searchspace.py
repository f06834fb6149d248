"""The activation search space of Ramachandran, Zoph & Le (2017, §3): functions built from
"core units" b(u1(x1), u2(x2)), sampled, named, described and evaluated.

One core unit is b(u1(x), u2(x)); a second unit takes the first's output as its left input and
x as its right: b2(u3(b1(u1(x), u2(x))), u4(x)), the structure of the paper's Figure 1.
A function is named by its expression, e.g. "mul(x,sigmoid(x))" (Swish-1), and the name is all
the analysis needs: `features` reads the paper's four trends off it, `build` turns it into a
torch function. Importable without torch or numpy (the plan and the claims check use it).

β is the constant 1 here, not a trained parameter as in the paper: βx and βx1 + (1 − β)x2
then duplicate x and x1 and are left out; x + β is x + 1 and the constant β is 1.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable

EPS = 1e-3  # ε of log(|x| + ε) and x1 / (x2 + ε)

# unary name → its formula (the torch code is in _UNARY_TORCH)
UNARY = {
    "x": "x",
    "neg": "−x",
    "abs": "|x|",
    "sq": "x²",
    "cube": "x³",
    "sqrtabs": "√|x|",
    "addone": "x + 1",
    "logabs": "log(|x| + ε)",
    "exp": "exp(x)",
    "sin": "sin(x)",
    "cos": "cos(x)",
    "sinh": "sinh(x)",
    "cosh": "cosh(x)",
    "tanh": "tanh(x)",
    "asinh": "asinh(x)",
    "atan": "atan(x)",
    "sinc": "sin(x)/x",
    "relu": "max(x, 0)",
    "minzero": "min(x, 0)",
    "sigmoid": "σ(x)",
    "softplus": "softplus(x)",
    "gauss": "exp(−x²)",
    "erf": "erf(x)",
    "one": "1",
}
BINARY = {
    "add": "x1 + x2",
    "mul": "x1 · x2",
    "sub": "x1 − x2",
    "div": "x1 / (x2 + ε)",
    "max": "max(x1, x2)",
    "min": "min(x1, x2)",
    "sigmul": "σ(x1) · x2",
    "gaussdiff": "exp(−(x1 − x2)²)",
    "expabsdiff": "exp(−|x1 − x2|)",
}
PERIODIC = ("sin", "cos")
BOUNDED = ("cosh", "one")  # denominators bounded away from 0: cosh ≥ 1, the constant 1
SWISH = "mul(x,sigmoid(x))"
RELU = "relu(x)"  # a reference, not a core unit: ReLU alone is not in the space

Tree = "str | tuple"  # "x", or (op, child) / (op, left, right)


def _unary(u: str, arg: str) -> str:
    return "x" if u == "x" and arg == "x" else arg if u == "x" else f"{u}({arg})"


def name(units: list[tuple[str, str, str]], last_right: str = "x") -> str:
    """The expression of 1 or 2 core units: [(b1, u1, u2)] or [(b1, u1, u2), (b2, u3, u4)]."""
    b, u1, u2 = units[0]
    expr = f"{b}({_unary(u1, 'x')},{_unary(u2, 'x')})"
    for b, u_left, u_right in units[1:]:
        expr = f"{b}({_unary(u_left, expr)},{_unary(u_right, last_right)})"
    return expr


P_IDENTITY = 0.25
"""Chance that a unary slot is the identity x (the other unaries share the rest evenly). Drawn
uniformly, x would be 1 of 24 and the form b(x, g(x)), one of the trends under test, would be
about 1 function in 10 (~20 of 200); at 1/4 it is about 1 in 3."""


def sample(n: int, seed: int, max_units: int = 2) -> list[str]:
    """`n` distinct functions of 1 .. max_units core units (each count equally likely),
    binary functions drawn uniformly, unary ones as P_IDENTITY says; the same for a given seed
    on any machine."""
    rng = random.Random(seed)
    others, binaries = sorted(set(UNARY) - {"x"}), sorted(BINARY)

    def unary() -> str:
        return "x" if rng.random() < P_IDENTITY else rng.choice(others)

    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n:
            raise ValueError(f"Cannot draw {n} distinct functions from the search space")
        k = rng.randint(1, max_units)
        units = [(rng.choice(binaries), unary(), unary()) for _ in range(k)]
        f = name(units)
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


_TOKEN = re.compile(r"\s*([a-z]+|\(|\)|,)")


def parse(expr: str) -> Tree:
    """An expression name → its tree; a clear error for anything outside the space."""
    tokens = _TOKEN.findall(expr)
    if "".join(tokens) != re.sub(r"\s", "", expr):
        raise ValueError(f"Not a search-space function: {expr!r}")
    pos = 0

    def node():
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"Not a search-space function (ends early): {expr!r}")
        t = tokens[pos]
        pos += 1
        if t == "x":
            return "x"
        arity = 1 if t in UNARY else 2 if t in BINARY else 0
        if not arity or pos >= len(tokens) or tokens[pos] != "(":
            raise ValueError(
                f"Not a search-space function: {expr!r} ({t!r} is not a unary or binary "
                f"function of the space; unary: {', '.join(UNARY)}; binary: {', '.join(BINARY)})"
            )
        pos += 1
        args = [node()]
        if arity == 2:
            if tokens[pos : pos + 1] != [","]:
                raise ValueError(f"Not a search-space function: {t} takes two inputs in {expr!r}")
            pos += 1
            args.append(node())
        if tokens[pos : pos + 1] != [")"]:
            raise ValueError(f"Not a search-space function: unclosed {t}( in {expr!r}")
        pos += 1
        return (t, *args)

    tree = node()
    if pos != len(tokens):
        raise ValueError(f"Not a search-space function (trailing text): {expr!r}")
    return tree


def is_expression(activation: str) -> bool:
    return "(" in activation


def _nodes(tree) -> list:
    """The function nodes of a tree; none below `one`, which ignores its input (one(div(..))
    is the constant 1, with no division in it)."""
    if tree == "x":
        return []
    if tree[0] == "one":
        return [tree]
    return [tree] + [n for child in tree[1:] for n in _nodes(child)]


def _has(tree, ops) -> bool:
    return any(n[0] in ops for n in _nodes(tree))


def features(expr: str) -> dict[str, bool | int]:
    """What the paper's trends are about, read off a function's expression:
    units: core units (binary functions; 0 for a plain unary such as ReLU);
    raw_x: the final binary function takes the raw pre-activation x as an input, b(x, g(x));
    periodic: sin or cos anywhere; periodic_x: x ± g(x) with g periodic (add or sub at the top);
    division: a division anywhere; unbounded_division: one whose denominator can reach 0."""
    tree = parse(expr)
    nodes = _nodes(tree)
    units = sum(1 for n in nodes if n[0] in BINARY)
    top_binary = tree != "x" and tree[0] in BINARY
    raw_x = top_binary and "x" in tree[1:]
    periodic = _has(tree, PERIODIC)
    periodic_x = bool(raw_x and tree[0] in ("add", "sub") and _has(tree, PERIODIC))
    divs = [n for n in nodes if n[0] == "div"]
    unbounded = any(not (d[2] != "x" and d[2][0] in BOUNDED) for d in divs)
    return {
        "units": units,
        "raw_x": bool(raw_x),
        "periodic": periodic,
        "periodic_x": periodic_x,
        "division": bool(divs),
        "unbounded_division": unbounded,
    }


FEATURES = ("units1", "units2", "raw_x", "periodic", "periodic_x", "division", "unbounded_division")


def has_feature(expr: str, feature: str) -> bool:
    """Whether a function has one of FEATURES (units1 / units2: exactly one / two core units)."""
    f = features(expr)
    if feature in ("units1", "units2"):
        return f["units"] == int(feature[-1])
    if feature not in f:
        raise ValueError(f"No such search feature: {feature!r}. Known: {', '.join(FEATURES)}")
    return bool(f[feature])


def formula(expr: str) -> str:
    """A function in the paper's notation, e.g. mul(x,sigmoid(x)) → x · σ(x)."""
    glyph = {"sigmoid": "σ"}
    infix = {"add": "+", "mul": "·", "sub": "−"}

    def show(t, top=False) -> str:
        if t == "x":
            return "x"
        op, *args = t
        if op == "one":
            return "1"
        if op in ("sq", "cube"):
            inner = show(args[0])  # an infix operand comes in parentheses already
            return inner + ("²" if op == "sq" else "³")
        if op == "neg":
            return "−x" if args[0] == "x" else f"−({show(args[0], True)})"
        if op == "abs":
            return f"|{show(args[0], True)}|"
        if op == "addone":
            s = f"{show(args[0])} + 1"
            return s if top else f"({s})"
        if op in infix:
            s = f"{show(args[0])} {infix[op]} {show(args[1])}"
            return s if top else f"({s})"
        if op == "div":
            return f"{show(args[0])} / ({show(args[1], True)} + ε)"
        if op == "sigmul":
            return f"σ({show(args[0], True)}) · {show(args[1])}"
        if op in ("max", "min"):
            return f"{op}({show(args[0], True)}, {show(args[1], True)})"
        if op == "gaussdiff":
            return f"exp(−({show(args[0])} − {show(args[1])})²)"
        if op == "expabsdiff":
            return f"exp(−|{show(args[0])} − {show(args[1])}|)"
        if op == "sqrtabs":
            return f"√|{show(args[0], True)}|"
        if op == "gauss":
            return (
                f"exp(−{show(args[0])}²)" if args[0] == "x" else f"exp(−({show(args[0], True)})²)"
            )
        if op == "logabs":
            return f"log(|{show(args[0], True)}| + ε)"
        if op == "sinc":
            return f"sinc({show(args[0], True)})"
        if op == "relu":
            return f"max({show(args[0], True)}, 0)"
        if op == "minzero":
            return f"min({show(args[0], True)}, 0)"
        return f"{glyph.get(op, op)}({show(args[0], True)})"

    return show(parse(expr), top=True)


def build(expr: str) -> Callable:
    """The torch function of an expression (elementwise, any shape). Overflow and division by a
    near-zero denominator give inf or NaN, which training records as a divergence."""
    import torch
    import torch.nn.functional as F

    unary = {
        "neg": torch.neg,
        "abs": torch.abs,
        "sq": lambda v: v * v,
        "cube": lambda v: v * v * v,
        "sqrtabs": lambda v: torch.sqrt(torch.abs(v)),
        "addone": lambda v: v + 1,
        "logabs": lambda v: torch.log(torch.abs(v) + EPS),
        "exp": torch.exp,
        "sin": torch.sin,
        "cos": torch.cos,
        "sinh": torch.sinh,
        "cosh": torch.cosh,
        "tanh": torch.tanh,
        "asinh": torch.asinh,
        "atan": torch.atan,
        "sinc": lambda v: torch.sinc(v / math.pi),  # sin(x)/x, 1 at 0
        "relu": F.relu,
        "minzero": lambda v: torch.clamp(v, max=0),
        "sigmoid": torch.sigmoid,
        "softplus": F.softplus,
        "gauss": lambda v: torch.exp(-v * v),
        "erf": torch.erf,
        "one": torch.ones_like,
    }
    binary = {
        "add": torch.add,
        "mul": torch.mul,
        "sub": torch.sub,
        "div": lambda a, b: a / (b + EPS),
        "max": torch.maximum,
        "min": torch.minimum,
        "sigmul": lambda a, b: torch.sigmoid(a) * b,
        "gaussdiff": lambda a, b: torch.exp(-((a - b) ** 2)),
        "expabsdiff": lambda a, b: torch.exp(-torch.abs(a - b)),
    }

    def compile_(t) -> Callable:
        if t == "x":
            return lambda v: v
        op, *args = t
        fs = [compile_(a) for a in args]
        if op in BINARY:
            f, (a, b) = binary[op], fs
            return lambda v: f(a(v), b(v))
        g, (a,) = unary[op], fs
        return lambda v: g(a(v))

    return compile_(parse(expr))
