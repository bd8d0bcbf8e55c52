"""HTTP byte ranges as S3 applies them (one range; RFC 7233 otherwise).

A malformed or multi-range header is ignored and the whole object returned, as S3
does; a well-formed range that selects nothing is InvalidRange (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import EngineError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The selected bytes of an object of `size` bytes, or None for the whole object."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_s, last_s = match.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # suffix: the last N bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - suffix), size - 1)
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None  # syntactically invalid: ignored
    if first >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(first, min(last, size - 1))


def _unsatisfiable(header: str, size: int) -> EngineError:
    return EngineError("InvalidRange", RangeRequested=header, ActualObjectSize=str(size))
