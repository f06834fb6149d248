"""Kind "spectral": the spectral-bias probe of Rahaman et al. (2019). A network fits a sum of
sines on [0, 1) by full-batch Adam; the DFT of its output at each target frequency, relative to
that frequency's amplitude, is recorded every `eval_every` steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Job, Kind

if TYPE_CHECKING:
    import pandas as pd

    from nnclaims.core.setup import Setup


def run_spectral(spec: RunSpec, ckpt_dir=None, weights_out=None) -> pd.DataFrame:
    """The probe's K models; progress.json goes to ckpt_dir, final weights to weights_out."""
    import numpy as np

    from nnclaims.kinds import common
    from nnclaims.train import tidy, weights
    from nnclaims.train.spectral import train_spectral

    seeds = list(spec.seeds)
    freqs = np.asarray(spec.freqs, dtype=float)
    amps = np.asarray(spec.amplitudes or [1.0] * len(freqs), dtype=float)
    if len(amps) != len(freqs):
        raise ValueError(f"{len(amps)} amplitudes for {len(freqs)} frequencies")
    model = common.stack(spec, 1, 1, seeds)
    out = train_spectral(
        model, freqs, amps, spec.n_points, spec.epochs, spec.lr, spec.eval_every, ckpt_dir
    )
    if weights_out is not None:
        models = [{"seed": s} for s in seeds]
        weights.save(
            weights_out, weights.model_states(model, range(len(seeds))), models, spec.run_id
        )
    return tidy.spectral_rows(spec, seeds, freqs, out)


def job(spec: RunSpec, job: Job):
    return run_spectral(spec, job.ckpt_dir, job.weights_out), None


def plan(setup: Setup) -> list[RunSpec]:
    """One probe run per arm of the claim's `spectral` block, on its own data (sines)."""
    s = setup.c["spectral"]
    return [
        RunSpec(
            "spectral",
            arm,
            **setup.arm_spec(arm),
            dataset="sines",
            depth=s["depth"],
            width=s["width"],
            epochs=s["steps"],
            lr=s["lr"],
            eval_every=s["eval_every"],
            freqs=tuple(s["freqs"]),
            amplitudes=tuple(s.get("amplitudes", ())),
            n_points=s["n_points"],
            batch_size=s["n_points"],
            seeds=tuple(range(int(s.get("phase_draws", setup.config["seeds"])))),
        )
        for arm in s["arms"]
    ]


def check(cid: str, c: dict, config: dict) -> None:
    sp = c["spectral"]
    high = [k for k in sp["freqs"] if k >= sp["n_points"] / 2]
    if high:
        raise ValueError(
            f"claims.{cid}.spectral.freqs: {high} at or above n_points / 2 = "
            f"{sp['n_points'] / 2:g} (the DFT of {sp['n_points']} points resolves frequencies "
            "below that)"
        )
    amps = sp.get("amplitudes")
    if amps and len(amps) != len(sp["freqs"]):
        raise ValueError(
            f"claims.{cid}.spectral.amplitudes: {len(amps)} amplitudes for {len(sp['freqs'])} freqs"
        )


def describe(runs: list[dict]) -> str:
    r = runs[0]
    return (
        f"spectral probe: sum of {len(r['freqs'])} sines (k = {r['freqs'][0]}…{r['freqs'][-1]}) "
        f"on {r['n_points']} points, MLP {r['depth']} × {r['width']}, full-batch Adam lr "
        f"{r['lr']:g} for {r['epochs']} steps, {len(r['seeds'])} phase draws, arms "
        f"{', '.join(x['arm'] for x in runs)}"
    )


KIND = Kind(
    "spectral",
    job,
    doc="spectral-bias probe on a sum of sines",
    params={
        "freqs": (5, 10, 15, 20, 25, 30, 35, 40, 45, 50),  # the target's k_i (Rahaman et al.)
        "amplitudes": (),  # its A_i; empty means all 1
        "n_points": 200,  # grid points on [0, 1) (Rahaman: 200)
        "eval_every": 50,  # steps between DFTs of the output
    },
    block="spectral",
    plan=plan,
    per_claim=True,
    order=90,
    check=check,
    needs_data=False,
    # `epochs` counts full-batch steps: 100 steps cost about one model-epoch here
    work=lambda spec: len(spec.seeds) * spec.epochs / 100,
    flops=lambda spec, per_example, n_train: (
        per_example * spec.n_points * spec.epochs * len(spec.seeds)
    ),
    describe=describe,
    family=False,
)
