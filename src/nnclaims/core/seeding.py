"""One seeding function: every random stream of a run is derived from (seed, stream name)."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    "data",
)


def derive_seed(seed: int, stream: str, *extra: int) -> int:
    """A 63-bit seed for one named random stream of one run seed (and optional sub-keys).

    Streams are independent of each other (SeedSequence) and stable across versions: the reinit
    control's fresh weights never coincide with the trunk's θ0; adding a stream changes no other.
    A kind's own streams (nnclaims.kinds: Kind.streams) are keyed by a checksum of their name,
    so that adding a kind changes no other kind's seeds.
    """
    if stream in STREAMS:
        index = STREAMS.index(stream)
    elif stream in _kind_streams():
        index = 2**32 + zlib.crc32(stream.encode())  # never one of the indices above
    else:
        known = (*STREAMS, *_kind_streams())
        raise ValueError(f"No such random stream: {stream!r}. Known: {', '.join(known)}")
    import numpy as np  # here: the planning side imports this module without numpy

    key = [int(seed), index, *map(int, extra)]
    state = np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))  # torch seeds must fit in a signed 64-bit integer


# the kinds' own streams, registered by each kind (nnclaims.core.kind)
KIND_STREAMS: set[str] = set()


def register_streams(names) -> None:
    KIND_STREAMS.update(names)


def _kind_streams() -> set[str]:
    return KIND_STREAMS


def generator(seed: int, stream: str, *extra: int) -> torch.Generator:
    import torch

    return torch.Generator().manual_seed(derive_seed(seed, stream, *extra))
