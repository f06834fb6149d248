"""One plot style for every figure: seaborn theme, colour-blind-safe palette, fixed arm colours."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; no display on clusters or CI
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from nnclaims.core.labels import ARM_LABELS, label  # noqa: E402, F401 (re-exported for the notebooks)

WIDTH_IN = 6.5  # figure width in inches = text width of the report, so fonts print at size


def setup_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "axes.titlesize": 11})


_CB = sns.color_palette("colorblind", 10)  # Okabe–Ito-like, safe for colour-blind readers
# a verdict's colour in every figure (colour-blind safe: Dark2)
VERDICT_COLORS = {
    "supported": "#1b9e77",
    "contradicted": "#d95f02",
    "equivalent": "#e6ab02",
    "inconclusive": "#7570b3",
}
ARM_COLORS = {
    "relu": _CB[0],
    "swish": _CB[1],
    "swish_beta": _CB[2],
    # near-black, not vermilion: Swish-1 (orange) and max(x, σ(x)) must not look alike
    "max_sigmoid": (0.1, 0.1, 0.1),
    "hat": _CB[4],
    "mish": (0.55, 0.0, 0.55),  # purple: apart from Swish-1's orange and ReLU's blue
    "mix4": _CB[5],
    "leaky_relu": _CB[6],
    "elu": _CB[9],  # light blue: ELU and GELU (grey) told apart
    "selu": _CB[8],
    "softplus": _CB[3],
    "gelu": _CB[7],
    # the polynomial claim's arms beside relu, softplus and hat: nine colours, none repeated
    "identity": (0.6, 0.6, 0.6),
    "square": _CB[5],
    "cube": _CB[8],
    "abs": (0.15, 0.15, 0.15),  # near-black: |x| (pink) and hat (purple) looked alike
    "sin": _CB[2],
    "tanh": _CB[9],
    "hat_wide": _CB[5],  # brown: the light pink of before looked like hat's own colour
    "hat_narrow": _CB[7],
    "hat_init3": _CB[8],
    "best_set1": _CB[8],
    "best_set2": _CB[9],
    "ga2": _CB[6],
    # sparsity arms never share a figure with activation arms
    "dense": (0.2, 0.2, 0.2),
    "imp": _CB[2],
    "reinit": _CB[3],
    "random": _CB[4],
}


def arm_palette(arms) -> dict[str, tuple]:
    """The same arm has the same colour in every figure; a variant (<arm>_cnn) takes its arm's
    colour; unknown arms get a stable pick."""

    def pick(a: str):
        if a in ARM_COLORS:
            return ARM_COLORS[a]
        base = a.rsplit("_", 1)[0]
        return ARM_COLORS.get(base, _CB[sum(map(ord, a)) % len(_CB)])

    return {a: pick(a) for a in arms}


def save(fig, out_dir: str | os.PathLike, stem: str) -> list[str]:
    """Write the figure as PNG (for the report) and PDF (vector); returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = out_dir / f"{stem}.{ext}"
        fig.savefig(p, dpi=200 if ext == "png" else None)
        paths.append(str(p))
    plt.close(fig)
    return paths


def curves(
    ax, df, metric: str, arms, x: str = "epoch", ylabel: str | None = None, log: bool = False
) -> None:
    """Mean over seeds of `metric` against `x` per arm, with a ±1 SD band.

    With log=True the mean and SD are taken of log10 values (geometric mean, multiplicative
    band), so a band never crosses zero on a log axis.
    """
    pal = arm_palette(arms)
    d = df[df.metric == metric]
    for arm in arms:
        v = d[d.arm == arm]
        if log:
            v = v.assign(value=np.log10(v["value"].clip(lower=1e-12)))
        g = v.groupby(x)["value"].agg(["mean", "std"]).reset_index()
        mid, lo, hi = g["mean"], g["mean"] - g["std"].fillna(0), g["mean"] + g["std"].fillna(0)
        if log:
            mid, lo, hi = 10**mid, 10**lo, 10**hi
        # a variant drawn beside its arm (relu_shared next to relu) shares its colour: dashed
        ls = "--" if arm not in ARM_COLORS and arm.rsplit("_", 1)[0] in arms else "-"
        ax.plot(g[x], mid, color=pal[arm], label=label(arm), lw=1.6, ls=ls)
        ax.fill_between(g[x], lo, hi, color=pal[arm], alpha=0.2, lw=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or metric)


def final_points(ax, values, arms, x: str = "arm", ylabel: str = "final test accuracy (%)") -> None:
    """Each seed as a dot, and the mean with its 95 % CI, per arm."""
    common = dict(
        data=values,
        x=x,
        y="value",
        hue="arm",
        order=arms,
        hue_order=arms,
        palette=arm_palette(arms),
        ax=ax,
        legend=False,
    )
    sns.stripplot(**common, size=4, alpha=0.6, jitter=0.15)
    sns.pointplot(**common, errorbar=("ci", 95), markers="D", linestyle="none")
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels([label(a) for a in arms], rotation=40, ha="right", rotation_mode="anchor")
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
