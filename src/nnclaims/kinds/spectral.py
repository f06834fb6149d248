"""Kind "spectral": the spectral-bias probe of Rahaman et al. (2019). A network fits a sum of
sines on [0, 1) by full-batch Adam; the DFT of its output at each target frequency, relative to
that frequency's amplitude, is recorded every `eval_every` steps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import tidy, weights
from ..engine import train_spectral
from ..hparams import RunSpec
from . import Job
from .common import stack


def run_spectral(spec: RunSpec, ckpt_dir=None, weights_out=None) -> pd.DataFrame:
    """The probe's K models; progress.json goes to ckpt_dir, final weights to weights_out."""
    seeds = list(spec.seeds)
    freqs = np.asarray(spec.freqs, dtype=float)
    amps = np.asarray(spec.amplitudes or [1.0] * len(freqs), dtype=float)
    if len(amps) != len(freqs):
        raise ValueError(f"{len(amps)} amplitudes for {len(freqs)} frequencies")
    model = stack(spec, 1, 1, seeds)
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
