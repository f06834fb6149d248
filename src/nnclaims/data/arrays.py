"""The in-memory data the training loop reads: a dataset's tensors (Arrays), one per model of a
stack when each model has its own data draw (PerModel, Draws), and a linear toy for tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the data rules make arrays without torch (see data/datasets.py)
    import torch


@dataclass
class Arrays:
    """A classification dataset as tensors: x (N, D) float, y (N,) int64; optionally a
    validation part held out of the training set, evaluated every epoch beside the test set."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


@dataclass
class PerModel:
    """A stack's data with one draw per model: the distinct draws' tensors stacked on a first
    axis (G draws), and `index` (K,), the draw of each model."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    index: torch.Tensor


@dataclass
class Draws:
    """One dataset's per-seed draws: data seed → Arrays, all of one shape. Every arm of a seed
    trains on its draw, so comparisons stay paired; in a stack, model k trains and is scored
    on the draw of its data seed (its run seed unless a kind says otherwise)."""

    by_seed: dict[int, Arrays]
    name: str = ""

    @property
    def n_classes(self) -> int:
        return max(a.n_classes for a in self.by_seed.values())

    @property
    def first(self) -> Arrays:
        """One draw, for shapes and dtypes (every draw has the same)."""
        return next(iter(self.by_seed.values()))

    def __getitem__(self, seed: int) -> Arrays:
        if seed not in self.by_seed:
            raise KeyError(
                f"No draw of {self.name or 'the dataset'} for data seed {seed} (loaded: "
                f"{sorted(self.by_seed)}): the kind must list it in its data seeds"
            )
        return self.by_seed[seed]

    def map(self, fn: Callable[[int, Arrays], Arrays]) -> Draws:
        return Draws({s: fn(s, a) for s, a in self.by_seed.items()}, self.name)

    def per_model(self, seeds: list[int]) -> PerModel:
        import torch

        keys = list(dict.fromkeys(seeds))
        parts = [self[s] for s in keys]
        val = parts[0].x_val is not None

        def stack(name):
            return (
                torch.stack([getattr(p, name) for p in parts]) if val or "val" not in name else None
            )

        return PerModel(
            *(stack(n) for n in ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")),
            index=torch.tensor([keys.index(s) for s in seeds]),
        )


def linear_toy(n=400, d=12, classes=4, dtype=None, seed=0) -> Arrays:
    """A small synthetic task for tests and checks: labels are the argmax of a random linear map
    of Gaussian inputs; n training and 100 test examples (dtype: float32 by default)."""
    import torch

    dtype = dtype or torch.float32
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, classes, generator=g)
    x = torch.randn(n + 100, d, generator=g)
    y = (x @ w).argmax(1)
    x = x.to(dtype)
    return Arrays(x[:n], y[:n], x[n:], y[n:])
