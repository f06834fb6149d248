"""One seeding function: every random stream of a run is derived from (seed, stream name)."""

from __future__ import annotations

import numpy as np
import torch

STREAMS = (
    "init",
    "order",
    "reinit",
    "mask",
    "phases",
    "augment",
    "dropout",
    "split",
    "search",
    "actsearch",
    "label_noise",
)


def derive_seed(seed: int, stream: str, *extra: int) -> int:
    """A 63-bit seed for one named random stream of one run seed (and optional sub-keys).

    Streams are independent of each other (SeedSequence) and stable across versions: the reinit
    control's fresh weights never coincide with the trunk's θ0; adding a stream changes no other.
    """
    if stream not in STREAMS:
        raise ValueError(f"No such random stream: {stream!r}. Known: {', '.join(STREAMS)}")
    key = [int(seed), STREAMS.index(stream), *map(int, extra)]
    state = np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))  # torch seeds must fit in a signed 64-bit integer


def generator(seed: int, stream: str, *extra: int) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, stream, *extra))
