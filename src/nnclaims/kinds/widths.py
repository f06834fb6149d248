"""Kind "widths": a width sweep (bhauth 2023 on overparameterization; the MNIST-1D
double-descent notebook, greydanus/mnist1d notebooks/deep-double-descent.ipynb).

One MLP per width of `spec.widths` and seed, all trained as one stack (models.StackedWidths) at
the run's fixed settings on the whole training set, with its labels as the run has them
(`label_noise`: data.noisy). Each width's rows carry arm `w<width>` (a variant's runs
`w<width>_<tag>`): the engine's per-epoch rows, plus at the last epoch the final model's loss
and accuracy on its whole training set (metrics fit_loss, fit_acc; the labels it was trained
on, noisy ones included): how well each width fits, which the claim's tests read
(nnclaims.stats.widthsweep). Nothing is chosen here, so no validation part is held out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind
from nnclaims.core.testtype import ClaimsError, TestType

if TYPE_CHECKING:
    import pandas as pd

    from nnclaims.core.setup import Setup


def build(spec: RunSpec, d_in, d_out: int, seeds: list[int], init_seeds=None):
    """Its K seeds at every width (models.StackedWidths)."""
    from nnclaims.nets import models

    return models.StackedWidths(
        seeds, d_in, spec.depth, spec.widths, d_out, spec.activation, spec.init_scale
    )


def job(spec: RunSpec, job: Job) -> tuple[pd.DataFrame, None]:
    import numpy as np
    import pandas as pd

    from nnclaims.kinds import common
    from nnclaims.train import engine, tidy, weights

    a = job.arrays
    model = build(spec, common.d_in(a), a.n_classes, list(spec.seeds))  # models.StackedWidths
    hist = common.train(spec, model, a, job.ckpt_dir, job.device, "widths")
    if job.weights_out is not None:  # every tensor has the seed axis first: one entry a seed
        state = {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}
        weights.save(job.weights_out, state, [{"seed": s} for s in spec.seeds], spec.run_id)
    k = len(spec.seeds)
    labels = [x for x in row_arms(spec) for _ in range(k)]  # w<width>[_<tag>]
    seeds = list(spec.seeds) * len(spec.widths)
    df = tidy.from_history(spec, hist, seeds, np.ones(len(seeds)), labels)
    loss, acc = engine.evaluate_on(model, a, "train", job.device)
    dead = hist["diverged_epoch"] > 0
    loss[dead], acc[dead] = np.nan, np.nan  # a diverged model fits nothing: a failure
    where = {"dataset": spec.dataset, "model": spec.model, "size": spec.depth, "level": 1.0,
             "freq": np.nan, "epoch": spec.epochs, "lr": spec.lr, "split": "train"}  # fmt: skip
    fit = [
        pd.DataFrame({"arm": labels, "seed": seeds, "metric": m, "value": v, **where})
        for m, v in (("fit_loss", loss), ("fit_acc", acc))
    ]
    return pd.concat([df, *fit], ignore_index=True)[tidy.COLUMNS], None


def row_arms(spec: RunSpec) -> list[str]:
    """Run arm "sweep" (a variant's "sweep_<tag>") → rows w<width> (w<width>_<tag>)."""
    return [f"w{w}{spec.arm[len('sweep') :]}" for w in spec.widths]


def plan(setup: Setup) -> list[RunSpec]:
    """One sweep per setup (a sweep with noisy labels is a variant)."""
    s = setup.c["width_sweep"]
    spec = RunSpec(
        "widths",
        setup.label("sweep"),
        setup.arm_spec(s.get("arm", "relu"))["activation"],
        widths=tuple(int(w) for w in s["widths"]),
        **setup.fixed_lr(),
    )
    return [spec]


def check(cid: str, c: dict, config: dict) -> None:
    ws = c["width_sweep"].get("widths", [])
    if list(ws) != sorted(ws):
        raise ValueError(f"claims.{cid}.width_sweep.widths: {ws} is not narrowest first")


def describe(runs: list[dict]) -> str:
    r = runs[0]
    ws = r["widths"]
    opt = "Adam" if r.get("optimizer", "adam") == "adam" else "SGD"
    noise = sorted({x.get("label_noise", 0.0) for x in runs} - {0.0})
    return (
        f"width sweep: MLP with {r['depth']} hidden layers of each of {len(ws)} widths "
        f"({', '.join(map(str, ws))}), {r['activation'][0]}, {opt} lr {r['lr']:g}, batch "
        f"{r['batch_size']}, {r['epochs']} epochs on the whole training set"
        + (f"; and again with {', '.join(f'{100 * x:g} %' for x in noise)} of the training "
           "labels redrawn at random" if noise else "")
    )  # fmt: skip


def check_sweep_test(where: str, cid: str, h: dict, runs: list) -> None:
    """A width-sweep test reads one sweep run of the claim: side a names its variant."""
    test = h["test"]
    if "b" in h or "variant" not in h["a"]:
        raise ClaimsError(f"{where}: test {test} reads one width sweep: give a: {{variant: tag}}")
    if test == "knee" and not h["metric"].endswith("loss"):
        raise ClaimsError(f"{where}: test knee fits the log of a loss: give a *_loss metric")
    if test == "peak" and (h["threshold"] != 0 or h["direction"] != "less"):
        raise ClaimsError(f"{where}: test peak asks for a dip below 0: direction less, threshold 0")
    if test == "spread" and h["threshold"] != 0:
        raise ClaimsError(
            f"{where}: test spread is a permutation test of no trend: its threshold is 0"
        )
    tag = h["a"]["variant"]
    label = f"sweep_{tag}" if tag else "sweep"
    have = [s.arm for s in runs if s.kind == "widths"]
    if label not in have:
        raise ClaimsError(
            f"{where}: test {test} reads the width sweep of variant {tag!r}, but claims.{cid} "
            f"runs {'those of ' + ', '.join(repr(a[6:]) for a in have) if have else 'none'} "
            "(a `width_sweep`, and a variant with that tag)"
        )


def _past_threshold(r: dict) -> str | None:
    if r.get("threshold_width") is None:
        return None  # the note says why there is nothing past the threshold
    return (
        f"{r['a_mean']:.1f} at {r['widths'][-1]} units vs {r['b_mean']:.1f} at "
        f"{r['threshold_width']} (the interpolation threshold)"
    )


def _values(df, h: dict, dataset: str | None, common: dict) -> dict:
    from nnclaims.stats import widthsweep

    return widthsweep.values(df, h, dataset, common)


SWEEP_TEST = {  # the tests over a width sweep (nnclaims.stats.widthsweep computes them)
    "values": _values,
    "check": check_sweep_test,
    "selects_arms": False,
    "metrics": ("fit_loss", "fit_acc"),
    "missing": "no width sweep run by this config",
    "says_note": True,
}
TESTS = (
    TestType(
        "knee",
        **SWEEP_TEST,
        statistic=lambda r, sign: f"slope ratio {sign} {r['threshold']:g} (against no knee)",
        measured=lambda r: (
            f"{r['note']}; loss {r['a_mean']:.3g} → {r['b_mean']:.3g} "
            f"({r['widths'][0]} → {r['widths'][-1]} units)"
        ),
        note="A knee test (`test: knee`) reads the log of a width sweep's final training loss "
        "(geometric mean over seeds) against log2 width: at each width, the slope over the "
        "octave after it over the slope over the octave before it; mean d is the largest such "
        "ratio, at the knee (1: a power law, no threshold; inf: flat before the knee), with a "
        "95 % percentile bootstrap interval over seeds that places the knee again in every "
        "sample (descriptive). Its p tests the ratio against curves without a knee: the power "
        "law fitted to the same curve plus the seeds' own deviations, resampled; the largest of "
        "several ratios exceeds 1 on almost any noisy curve. It can support a knee, not "
        "contradict one.",
    ),
    TestType(
        "spread",
        **SWEEP_TEST,
        statistic=lambda r, sign: f"Spearman ρ {sign} {r['threshold']:g} (permutation)",
        measured=lambda r: r["note"],
        note="A spread test (`test: spread`) gives Spearman's ρ between log width and the "
        "seeds' SD of the metric at each width, of log10 for a loss (the spread relative to the "
        "loss; −1: it shrinks at every step), with a percentile bootstrap interval over seeds "
        "(descriptive) and the p of a permutation test over the widths' order.",
    ),
    TestType(
        "past_threshold",
        **SWEEP_TEST,
        measured=_past_threshold,
        note="A past-threshold test (`test: past_threshold`) compares, per seed, the widest "
        "width with the interpolation threshold (the narrowest width whose mean training "
        "accuracy reaches 99 %; read off the training set), as a paired t-test.",
    ),
    TestType(
        "peak",
        **SWEEP_TEST,
        measured=lambda r: r["note"],
        note="A peak test (`test: peak`) asks whether test accuracy dips at the interpolation "
        "threshold (deep double descent): per seed, the accuracy there minus that at a quarter "
        "of its width, and minus that at the widest width; both must be below 0. Each "
        "difference gets a paired t-test; mean d and its interval are those of the difference "
        "nearer to no dip, the p the larger of the two (an intersection-union test).",
    ),
)


KIND = Kind(
    "widths",
    job,
    doc="width sweep: one MLP per width and seed, how well each fits its training set",
    params={"widths": ()},  # the hidden widths of the sweep, one model per seed each
    block="width_sweep",
    plan=plan,
    order=20,
    check=check,
    row_arms=row_arms,
    priority=5,  # one MLP per width and seed in one stack (~1 min on MNIST-1D): start early
    # a width-w MLP costs about (w / width)² of one of width `width`
    work=lambda spec: (
        len(spec.seeds) * sum(max(1.0, (w / spec.width) ** 2) for w in spec.widths) * spec.epochs
    ),
    # one example through every width of one seed's sweep, per seed and epoch
    flops=lambda spec, per_example, n_train: per_example * n_train * len(spec.seeds) * spec.epochs,
    describe=describe,
    family=False,
    seed_unit="width",
    build=build,
    tests=TESTS,
)
