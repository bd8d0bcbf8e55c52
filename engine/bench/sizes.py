"""Byte sizes as people write them on a command line (4KiB, 64MiB, 1MB, 512).

Binary suffixes (KiB, MiB, GiB) are powers of 1024 and decimal ones (KB, MB, GB) powers
of 1000, as IEC and SI define them, so `--size 1MB` means what it says. A bare `K`/`M`/`G`
is taken as binary, the way dd and most tools read it.
"""

from __future__ import annotations

import argparse
import re

MB = 1000 * 1000  # throughput is reported in decimal MB/s, as disks and NICs are
MIB = 1024 * 1024

_UNITS: dict[str, int] = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """`"64MiB"` -> 67108864. Raises ValueError on anything else, naming the input."""
    match = _SIZE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (use e.g. 4KiB, 64MiB, 1MB, 512)")
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value != int(value):
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return int(value)


def size_arg(text: str) -> int:
    """``parse_size`` as an argparse ``type=``: a bad size is a usage error."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_size(n: int) -> str:
    """The shortest exact binary form: 4096 -> "4KiB", 1000 -> "1000B"."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"
