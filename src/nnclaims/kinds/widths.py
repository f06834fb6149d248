"""Kind "widths": a width sweep (bhauth 2023 on overparameterization; the MNIST-1D
double-descent notebook, greydanus/mnist1d notebooks/deep-double-descent.ipynb).

One MLP per width of `spec.widths` and seed, all trained as one stack (models.StackedWidths) at
the run's fixed settings on the whole training set, with its labels as the run has them
(`label_noise`: data.noisy). Each width's rows carry arm `w<width>` (a variant's runs
`w<width>_<tag>`): the engine's per-epoch rows, plus at the last epoch the final model's loss
and accuracy on its whole training set (metrics fit_loss, fit_acc; the labels it was trained
on, noisy ones included): how well each width fits, which the claim's tests read
(nnclaims.widthsweep). Nothing is chosen here, so no validation part is held out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import tidy, weights
from ..engine import evaluate
from ..hparams import RunSpec
from . import Job, get
from .common import d_in, stack, train


def job(spec: RunSpec, job: Job) -> tuple[pd.DataFrame, None]:
    a = job.arrays
    model = stack(spec, d_in(a), a.n_classes, list(spec.seeds))  # models.StackedWidths
    hist = train(spec, model, a, job.ckpt_dir, job.device, "widths")
    if job.weights_out is not None:  # every tensor has the seed axis first: one entry a seed
        state = {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}
        weights.save(job.weights_out, state, [{"seed": s} for s in spec.seeds], spec.run_id)
    k = len(spec.seeds)
    labels = [x for x in get("widths").row_arms(spec) for _ in range(k)]  # w<width>[_<tag>]
    seeds = list(spec.seeds) * len(spec.widths)
    df = tidy.from_history(spec, hist, seeds, np.ones(len(seeds)), labels)
    x, y = a.x_train.to(job.device), a.y_train.to(job.device)
    loss, acc = evaluate(model, x, y)
    dead = hist["diverged_epoch"] > 0
    loss[dead], acc[dead] = np.nan, np.nan  # a diverged model fits nothing: a failure
    where = {"dataset": spec.dataset, "model": spec.model, "size": spec.depth, "level": 1.0,
             "freq": np.nan, "epoch": spec.epochs, "lr": spec.lr, "split": "train"}  # fmt: skip
    fit = [
        pd.DataFrame({"arm": labels, "seed": seeds, "metric": m, "value": v, **where})
        for m, v in (("fit_loss", loss), ("fit_acc", acc))
    ]
    return pd.concat([df, *fit], ignore_index=True)[tidy.COLUMNS], None
