"""What each worker of the object workload does, decided by the seed alone.

Worker ``w``'s steps come from its own generator seeded with ``(seed, w)``, each step
drawing the same number of values, so a run's operations, keys, endpoints and APIs replay
exactly for a seed; only how far a duration-bounded run gets depends on speed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.chaos.workload.s3_clients import Api, ObjectEndpoint

Kind = Literal["get", "put", "delete", "copy", "multipart"]
KINDS: tuple[Kind, ...] = ("get", "put", "delete", "copy", "multipart")
DEFAULT_MIX: Mapping[Kind, int] = {"get": 40, "put": 22, "delete": 10, "copy": 14,
                                    "multipart": 14}
Bucket = Literal["versioned", "unversioned"]


@dataclass(frozen=True)
class Step:
    """One operation to run. ``source`` is the copy's source key (another key of the same
    bucket) and ``pick`` in [0, 1) chooses among the source's known versions; ``parts``
    is the number of parts of a multipart upload."""

    kind: Kind
    bucket: Bucket
    key: str
    node: str
    api: Api
    size: int
    source: str
    pick: float
    parts: int


def key_names(keys_per_bucket: int) -> list[str]:
    return [f"k{i}" for i in range(keys_per_bucket)]


def steps(seed: int, worker: int, endpoints: Sequence[ObjectEndpoint],
          mix: Mapping[Kind, int] = DEFAULT_MIX, keys_per_bucket: int = 3,
          sizes: Sequence[int] = (64,), two_part_share: float = 0.0) -> Iterator[Step]:
    """Worker ``worker``'s endless sequence of steps."""
    if keys_per_bucket < 2:
        raise ValueError("a copy needs a source key besides its destination: 2 keys or more")
    rng = random.Random(f"objects:{seed}:{worker}")
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]
    weights = [mix[k] for k in kinds]
    keys = key_names(keys_per_bucket)
    buckets: tuple[Bucket, ...] = ("versioned", "unversioned")
    while True:
        kind = rng.choices(kinds, weights)[0]
        bucket = rng.choice(buckets)
        key = rng.choice(keys)
        endpoint = rng.choice(endpoints)
        api = rng.choice(endpoint.apis)
        size = rng.choice(sizes)
        source = rng.choice([k for k in keys if k != key])
        pick = rng.random()
        parts = 2 if rng.random() < two_part_share else 1
        yield Step(kind, bucket, key, endpoint.node, api, size, source, pick, parts)
