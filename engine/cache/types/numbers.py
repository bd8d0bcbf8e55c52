"""Numbers as Redis 7.0 reads and writes them: doubles for scores, long doubles for
INCRBYFLOAT/HINCRBYFLOAT.

Scores are C doubles (Python floats). Redis 7.0 replies them with ``%.17g`` (so 0.1 is
"0.10000000000000001"), integers up to 2^52 without a fraction, and "inf"/"-inf";
:func:`format_double` reproduces that byte for byte. INCRBYFLOAT computes in x87 long
double (64-bit mantissa) and stores ``%.17Lf`` with trailing zeros cut, which is why
``INCRBYFLOAT k 0.1`` on "10.5" gives "10.6" and not "10.599999999999999"; the helpers
here compute that with exact fractions rounded to a 64-bit mantissa, so the stored
strings match Redis's on every platform.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from engine.errors import EngineError

_DECIMAL = rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_INF = rb"[+-]?(?:inf|infinity)"
_HEX = rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
_HEX_FLOAT = re.compile(_HEX)
# What strtod/strtold accept in full, case-insensitive for inf and hex digits.
_FLOAT = re.compile(rb"(?:" + _DECIMAL + rb")|(?i:" + _INF + rb")|(?:" + _HEX + rb")")
_NAN = re.compile(rb"(?i)[+-]?nan.*")
_LEADING_SPACE = b" \t\n\v\f\r"

# Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, "-0" refused, at
# most 20 characters; the range is checked after parsing.
_REDIS_INT = re.compile(rb"0|-?[1-9][0-9]{0,19}")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_MANTISSA_BITS = 64  # x87 extended precision
_LDBL_MAX_EXP = 16384
_LDBL_MIN_EXP = -16381


def parse_redis_int(raw: bytes | bytearray) -> int:
    """The value as Redis's INCR reads it (string2ll), else ``NotAnInteger``."""
    if _REDIS_INT.fullmatch(raw):
        value = int(raw)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    raise EngineError("NotAnInteger")


def not_a_float(message: str = "value is not a valid float") -> EngineError:
    return EngineError("NotAFloat", message)


def _strtod(text: bytes) -> float | None:
    """strtod over the whole text: a float (overflow gives +-inf), or None when the text
    is not entirely a number. Leading whitespace is allowed, as strtod allows it."""
    body = text.lstrip(_LEADING_SPACE)
    if not _FLOAT.fullmatch(body):
        return None
    if _HEX_FLOAT.fullmatch(body):
        try:
            return float.fromhex(body.decode())
        except OverflowError:
            return -math.inf if body[:1] == b"-" else math.inf
    return float(body)  # Python, like strtod, rounds to nearest and overflows to inf


def parse_double(raw: bytes | float | int) -> float:
    """A score argument as Redis's getDoubleFromObject reads it, else NotAFloat.

    No spaces, no NaN, and out-of-range text ("1e400", "1e-400") is refused, while
    "inf", "+inf" and "-inf" are scores like any other.
    """
    if isinstance(raw, float | int) and not isinstance(raw, bool):
        value = float(raw)
        if math.isnan(value):
            raise not_a_float()
        return value
    if not isinstance(raw, bytes) or not raw or raw[:1] in (b" ", b"\t", b"\n", b"\v",
                                                              b"\f", b"\r"):
        raise not_a_float()
    value = _strtod(raw)
    if value is None:
        raise not_a_float()
    literal_inf = raw.lstrip(b"+-")[:1] in (b"i", b"I")
    if math.isinf(value) and not literal_inf:
        raise not_a_float()  # ERANGE overflow
    if value == 0 and re.search(rb"[1-9]", raw.split(b"e")[0].split(b"E")[0]):
        raise not_a_float()  # ERANGE underflow to zero
    return value


def parse_range_double(raw: bytes) -> float | None:
    """A ZRANGEBYSCORE bound after its optional "(" as zslParseRange reads it: strtod
    with only "the whole text was read" checked (so "" is 0, overflow is inf)."""
    if raw == b"":
        return 0.0
    value = _strtod(raw)
    if value is None or math.isnan(value):
        return None
    return value


def format_double(value: float) -> bytes:
    """A double as Redis 7.0 replies it (addReplyDouble / d2string)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    return b"%.17g" % value


# -- long double (INCRBYFLOAT) -----------------------------------------------------------

LongDouble = Fraction | float  # a finite value exactly, or +-inf as a float


def _round_mantissa(value: Fraction) -> Fraction:
    """``value`` rounded to the nearest x87 long double (ties to even)."""
    if value == 0:
        return value
    sign = -1 if value < 0 else 1
    mag = abs(value)
    exp = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** exp > mag:
        exp -= 1
    # mag in [2^exp, 2^(exp+1)); keep 64 bits; subnormals keep fewer
    shift = _MANTISSA_BITS - 1 - max(exp, _LDBL_MIN_EXP - 1)
    scaled = mag * (Fraction(2) ** shift)
    return sign * Fraction(round(scaled)) / (Fraction(2) ** shift)


def parse_long_double(raw: bytes) -> LongDouble | None:
    """What Redis's string2ld reads from ``raw`` (None: not a valid float)."""
    if not raw or len(raw) >= 5 * 1024 or raw[:1] in _LEADING_SPACE or _NAN.fullmatch(raw):
        return None
    if not _FLOAT.fullmatch(raw):
        return None
    if raw.lstrip(b"+-")[:1] in (b"i", b"I"):
        return -math.inf if raw[:1] == b"-" else math.inf
    if _HEX_FLOAT.fullmatch(raw):
        parsed = _strtod(raw)
        if parsed is None or math.isinf(parsed):
            return None
        return Fraction(parsed)
    value = _round_mantissa(Fraction(raw.decode()))
    if value != 0 and abs(value).numerator.bit_length() - abs(value).denominator.bit_length(
    ) >= _LDBL_MAX_EXP:
        return None  # ERANGE overflow
    if value == 0 and re.search(rb"[1-9]", re.split(rb"[eE]", raw)[0]):
        return None  # ERANGE underflow
    return value


def add_long_double(a: LongDouble, b: LongDouble) -> LongDouble | None:
    """a + b rounded as x87 does; None when the result is NaN or infinite."""
    if isinstance(a, float) or isinstance(b, float):
        return None  # inf plus anything is inf or NaN: both refused by INCRBYFLOAT
    total = _round_mantissa(a + b)
    if total != 0 and (abs(total).numerator.bit_length()
                       - abs(total).denominator.bit_length()) >= _LDBL_MAX_EXP:
        return None
    return total


def format_long_double(value: Fraction) -> bytes:
    """``%.17Lf`` with trailing zeros (and a bare ".") removed, "-0" as "0"."""
    scaled = round(value * 10**17)  # Fraction rounds half to even, as glibc prints
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(18, "0")
    text = f"{sign}{digits[:-17]}.{digits[-17:]}".rstrip("0").rstrip(".")
    return b"0" if text == "-0" else text.encode()
