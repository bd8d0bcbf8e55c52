# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RESP requests (arrays of bulk strings) cut out of a client's read buffer in C.

Every command a Redis client pipelines passes through here, so this is the RESP
endpoint's per-byte path: one pass over the bytes, each argument copied once into its
``bytes`` object, the headers checked as Redis 7's processMultibulkBuffer checks them
(strict integers, Redis's limits and error texts; engine/api/resp/parser.py wraps it).

A request split across reads keeps its finished arguments here and resumes at the next
header, so a large request arriving in many small reads is scanned once, not once per
read.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize

cdef extern from "string.h":
    const void *memchr(const void *s, int c, size_t n)

# Redis's bounds (server.h / networking.c) and the engine's element cap.
cdef enum:
    _INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE: longest header line
    _MAX_MULTIBULK = 1024 * 1024
    _UNAUTH_MULTIBULK = 10
    _UNAUTH_BULK = 16384

INLINE_MAX = _INLINE_MAX
MAX_MULTIBULK = _MAX_MULTIBULK
UNAUTHENTICATED_MULTIBULK = _UNAUTH_MULTIBULK
UNAUTHENTICATED_BULK = _UNAUTH_BULK


cdef Py_ssize_t _line_end(const char *buf, Py_ssize_t pos, Py_ssize_t size):
    """Index of the CR of the first CRLF at or after pos; -1 if none has arrived."""
    cdef const char *cr
    while pos < size:
        cr = <const char *>memchr(buf + pos, 13, <size_t>(size - pos))
        if cr == NULL:
            return -1
        pos = cr - buf
        if pos + 1 >= size:
            return -1
        if buf[pos + 1] == 10:
            return pos
        pos += 1
    return -1


cdef bint _strict_int(const char *p, Py_ssize_t n, long long *out):
    """Redis's string2ll: an optional minus, digits, no leading zero, no overflow."""
    cdef bint negative = False
    cdef unsigned long long value = 0
    cdef Py_ssize_t i = 0
    cdef unsigned char c
    if n <= 0 or n > 20:
        return False
    if p[0] == 45:  # '-'
        negative = True
        i = 1
        if n == 1:
            return False
    if p[i] == 48:  # '0': only "0" itself
        if n == 1:
            out[0] = 0
            return True
        return False
    while i < n:
        c = <unsigned char>p[i]
        if c < 48 or c > 57:
            return False
        if value > (18446744073709551615ULL - (c - 48)) // 10:
            return False
        value = value * 10 + (c - 48)
        i += 1
    if negative:
        if value > 9223372036854775808ULL:
            return False
        out[0] = -<long long>(value - 1) - 1 if value else 0
    else:
        if value > 9223372036854775807ULL:
            return False
        out[0] = <long long>value
    return True


class ScanError(ValueError):
    """The bytes broke the protocol; the message is what follows "Protocol error: "."""


cdef class RequestScanner:
    """The array request in progress of one connection (its finished arguments, how many
    are still to come, the length of a bulk string whose header was read)."""

    cdef list _args
    cdef Py_ssize_t _left
    cdef long long _bulk
    cdef public Py_ssize_t held_bytes  # bytes of the finished arguments kept here

    def __cinit__(self):
        self._args = None
        self._left = 0
        self._bulk = -1
        self.held_bytes = 0

    @property
    def busy(self):
        """Whether an array request has started and not finished."""
        return self._left > 0

    def scan(self, bytearray buf, Py_ssize_t pos, list out, bint authenticated,
             long long max_bulk, Py_ssize_t limit=0):
        """Append to ``out`` each array request complete in ``buf[pos:]``; stop at the end
        of the data, before an inline request (a byte other than '*' where a request
        starts) or after ``limit`` requests (0: no limit). Returns (position of the first
        byte not consumed, whether more data is needed). Raises ScanError."""
        cdef const char *data = PyByteArray_AS_STRING(buf)
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(buf)
        cdef Py_ssize_t end
        cdef long long number
        cdef Py_ssize_t done = 0
        while True:
            if self._left == 0:
                if limit and done >= limit:
                    return pos, False
                if pos >= size:
                    return pos, True
                if data[pos] != 42:  # '*': anything else is an inline request
                    return pos, False
                end = _line_end(data, pos, size)
                if end < 0:
                    if size - pos > _INLINE_MAX:
                        raise ScanError("too big mbulk count string")
                    return pos, True
                if not _strict_int(data + pos + 1, end - pos - 1, &number) \
                        or number > _MAX_MULTIBULK:
                    raise ScanError("invalid multibulk length")
                if number > _UNAUTH_MULTIBULK and not authenticated:
                    raise ScanError("unauthenticated multibulk length")
                pos = end + 2
                if number <= 0:  # "*0" and "*-1": nothing to run
                    continue
                self._left = <Py_ssize_t>number
                self._args = []
                self.held_bytes = 0
            if self._bulk < 0:
                if pos >= size:
                    return pos, True
                end = _line_end(data, pos, size)
                if end < 0:
                    if size - pos > _INLINE_MAX:
                        raise ScanError("too big bulk count string")
                    return pos, True
                if data[pos] != 36:  # '$'
                    raise ScanError("expected '$', got '%s'" % chr(<unsigned char>data[pos]))
                if not _strict_int(data + pos + 1, end - pos - 1, &number) \
                        or number < 0 or number > max_bulk:
                    raise ScanError("invalid bulk length")
                if number > _UNAUTH_BULK and not authenticated:
                    raise ScanError("unauthenticated bulk length")
                self._bulk = number
                pos = end + 2
            if size - pos < self._bulk + 2:
                return pos, True
            self._args.append(PyBytes_FromStringAndSize(data + pos, <Py_ssize_t>self._bulk))
            self.held_bytes += <Py_ssize_t>self._bulk
            pos += <Py_ssize_t>self._bulk + 2
            self._bulk = -1
            self._left -= 1
            if self._left == 0:
                out.append(self._args)
                self._args = None
                self.held_bytes = 0
                done += 1
