"""A dataset's shape before it is loaded: (one example's shape, training examples, classes),
for a download from its registry entry (nnclaims.data.downloads), for an embedded dataset from
the catalog. The plan sizes jobs with it, and nnclaims.train.weights rebuilds a run's models."""

from __future__ import annotations

from nnclaims.core import catalog
from nnclaims.data.downloads import REGISTRY


def dataset_shape(name: str) -> tuple[tuple[int, ...], int, int]:
    if name in REGISTRY:
        src = REGISTRY[name]
        return src.shape, src.n_train, src.n_classes
    return catalog.EMBEDDED_SHAPES[name]
