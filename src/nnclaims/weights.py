"""A finished run's models: `nnclaims.weights.load(run_dir)`, the entry point for a user's own
analysis (docs/outputs.md). The code is nnclaims.train.weights; this module also registers the
built-in kinds, which the run's hyperparameters name."""

from nnclaims import kinds  # noqa: F401 (registers the kinds)
from nnclaims.train.weights import load, read

__all__ = ["load", "read"]
