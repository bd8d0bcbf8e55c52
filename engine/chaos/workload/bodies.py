"""Self-describing object bodies: a write's bytes say which write they are and carry the
checksum that proves them whole, so a torn, corrupt or misdirected body is found from the
bytes alone, whatever the server claims about them.

A body is one header line and a payload::

    engine-chaos/1 <value> <payload length>\\n<payload>

``value`` (``run:writer:seq:digest``) is what the history records for the write; its
last field is a BLAKE2b digest of the payload. A reader parses the header, checks length
and digest, and records the value with ``checksum_ok``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

MAGIC = b"engine-chaos/1"
_DIGEST_BYTES = 8  # 64 bits: a collision between two writes of one run is not a concern
_MAX_HEADER = 512


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).hexdigest()


@dataclass(frozen=True)
class Body:
    """One write's value (as the history records it) and its bytes."""

    value: str
    data: bytes


def make_body(run: str, writer: int, seq: int, size: int) -> Body:
    """The body of write ``seq`` of ``writer``: ``size`` payload bytes, deterministic from
    the names (so a run replays byte for byte) and unique per write through the header."""
    payload = random.Random(f"{run}:{writer}:{seq}").randbytes(size)
    value = f"{run}:{writer}:{seq}:{digest(payload)}"
    return Body(value, b"%s %s %d\n" % (MAGIC, value.encode(), size) + payload)


@dataclass(frozen=True)
class Decoded:
    """What a read returned: the value its header names (or a name for unparseable bytes)
    and whether the payload is the one that value describes."""

    value: str
    intact: bool


def decode(data: bytes) -> Decoded:
    """The value a body names and whether it is whole. Bytes without a header are named
    ``unparseable:<digest>``, which no write produced."""
    end = data.find(b"\n", 0, _MAX_HEADER)
    fields = data[:end].split(b" ") if end > 0 else []
    if len(fields) != 3 or fields[0] != MAGIC or not fields[2].isdigit():
        return Decoded(f"unparseable:{digest(data)}", False)
    try:
        value = fields[1].decode("ascii")
    except UnicodeDecodeError:
        return Decoded(f"unparseable:{digest(data)}", False)
    payload = data[end + 1:]
    intact = len(payload) == int(fields[2]) and value.rpartition(":")[2] == digest(payload)
    return Decoded(value, intact)
