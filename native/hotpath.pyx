# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The per-byte hot path: CRC32C checksums and zero-copy stripe/block cutting.

Every object byte written or read passes through here once, so this module avoids
copies (blocks and stripes are memoryview slices of the caller's buffer) and computes
CRC32C (Castagnoli, the iSCSI/ext4/S3 checksum) with the CPU's CRC instruction,
interleaving three independent streams to hide its latency.

The implementation is chosen once, at import, by asking the CPU:
``"sse4.2"`` on x86-64, ``"armv8-crc"`` on aarch64 with the CRC extension, otherwise
``"software"`` (portable slicing-by-8). Setting the environment variable
``ENGINE_CRC32C=software`` before import forces the portable path (to test it, or to
rule the instruction out when chasing a checksum mismatch); ``backend()`` reports the
choice.

The GIL is released while hashing buffers of at least ``NOGIL_MIN_BYTES`` (8 KiB), so
other threads (gRPC handlers, the erasure coder) run meanwhile; shorter calls keep it,
as releasing would be a visible share of their cost and they cannot starve anyone.
"""

import os

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, strcmp


cdef extern from "Python.h":
    object PyByteArray_FromStringAndSize(const char *string, Py_ssize_t length)
    object PyMemoryView_FromObject(object obj)
    Py_buffer *PyMemoryView_GET_BUFFER(object view)
    int PyBuffer_IsContiguous(const Py_buffer *view, char order)


cdef extern from *:
    """
    #if defined(__linux__)
    #include <fcntl.h>
    static int engine_start_writeback(int fd, long long offset, long long length) {
        return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
    }
    #else
    static int engine_start_writeback(int fd, long long offset, long long length) {
        (void)fd; (void)offset; (void)length;
        return -1;
    }
    #endif
    """
    int engine_start_writeback(int fd, long long offset, long long length) nogil


cdef extern from "crc32c_impl.h" nogil:
    void crc32c_select(int force_software)
    const char *crc32c_active_name
    uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t length)
    uint32_t crc32c_software_impl(uint32_t crc, const unsigned char *p, size_t length)
    uint32_t crc32c_combine_impl(uint32_t crc1, uint32_t crc2, uint64_t len2)
    uint32_t crc32c_multmodp(uint32_t a, uint32_t b)
    uint32_t crc32c_x8n(uint64_t nbytes)


# Below this many bytes the GIL is kept: a release/reacquire pair (tens of ns, far more
# when another thread wants the GIL) is a visible share of the ~250 ns it takes to hash
# 4 KiB, and calls that short cannot starve other threads anyway.
cdef enum:
    _NOGIL_MIN = 8192
NOGIL_MIN_BYTES = _NOGIL_MIN

crc32c_select(1 if os.environ.get("ENGINE_CRC32C", "").strip().lower() == "software" else 0)
cdef str _BACKEND = crc32c_active_name.decode("ascii")


def backend():
    """Name of the CRC32C implementation chosen at import: "sse4.2", "armv8-crc" or "software"."""
    return _BACKEND


cdef inline uint32_t _hash(uint32_t crc, const unsigned char *p, Py_ssize_t n,
                           bint software) noexcept nogil:
    if software:
        return crc32c_software_impl(crc, p, <size_t>n)
    return crc32c_update(crc, p, <size_t>n)


cdef uint32_t _crc_buffer(object data, uint32_t value, bint software) except? 0xFFFFFFFF:
    cdef Py_buffer buf
    cdef uint32_t result
    PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
    if buf.len >= _NOGIL_MIN:
        with nogil:
            result = _hash(value, <const unsigned char *>buf.buf, buf.len, software)
    else:
        result = _hash(value, <const unsigned char *>buf.buf, buf.len, software)
    PyBuffer_Release(&buf)
    return result


def crc32c(data, uint32_t value=0):
    """CRC32C of a C-contiguous buffer, continuing from ``value`` (a previous result).

    Same contract as the PyPI ``crc32c.crc32c``: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    Raises TypeError for non-buffers, BufferError for non-contiguous buffers and
    OverflowError for a ``value`` outside 0..2**32-1.
    """
    return _crc_buffer(data, value, False)


def crc32c_software(data, uint32_t value=0):
    """Same as crc32c() but always on the portable table-driven path (for tests)."""
    return _crc_buffer(data, value, True)


def crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2):
    """CRC32C of A||B from crc(A), crc(B) and len(B), in O(log len2) (like zlib's)."""
    return crc32c_combine_impl(crc1, crc2, len2)


def combine_checksums(crcs, Py_ssize_t block_size, Py_ssize_t last_len):
    """Whole-object CRC32C from the CRCs of its consecutive blocks.

    Every block is ``block_size`` bytes except the last, which is ``last_len`` bytes
    (it may be any length >= 0). Lets a reader verify a whole object from stored
    per-block checksums without re-reading it. An empty sequence gives 0.
    """
    if block_size <= 0:
        raise ValueError(f"block_size must be > 0, got {block_size}")
    if last_len < 0:
        raise ValueError(f"last_len must be >= 0, got {last_len}")
    cdef list items = list(crcs)
    cdef Py_ssize_t n = len(items)
    if n == 0:
        return 0
    cdef uint32_t shift_full = crc32c_x8n(<uint64_t>block_size)
    cdef uint32_t acc = <uint32_t>items[0]
    cdef Py_ssize_t i
    for i in range(1, n - 1):
        acc = crc32c_multmodp(shift_full, acc) ^ <uint32_t>items[i]
    if n > 1:
        acc = crc32c_multmodp(crc32c_x8n(<uint64_t>last_len), acc) ^ <uint32_t>items[n - 1]
    return acc


cdef object _byte_view(object data):
    """A flat unsigned-byte memoryview over ``data`` (whose .obj is still ``data``).

    The view holds the buffer export, so its Py_buffer (``_view_buffer``) stays valid,
    and a bytearray input cannot be resized, for as long as the view lives.
    """
    cdef object view = PyMemoryView_FromObject(data)
    cdef Py_buffer *b = PyMemoryView_GET_BUFFER(view)
    if not PyBuffer_IsContiguous(b, b"C"):
        raise BufferError("buffer is not C-contiguous")
    if b.ndim != 1 or b.format == NULL or strcmp(b.format, "B") != 0:
        view = view.cast("B")
    return view


cdef inline Py_buffer *_view_buffer(object view):
    return PyMemoryView_GET_BUFFER(view)


cdef uint32_t *_block_crcs(const unsigned char *p, Py_ssize_t total, Py_ssize_t block_size,
                           Py_ssize_t count) except NULL:
    """CRC32C of each block into a new malloc'd array (GIL dropped for large inputs)."""
    cdef uint32_t *out = <uint32_t *>malloc(<size_t>(count if count > 0 else 1) * sizeof(uint32_t))
    cdef Py_ssize_t i, start, length
    if out == NULL:
        raise MemoryError()
    if total >= _NOGIL_MIN:
        with nogil:
            for i in range(count):
                start = i * block_size
                length = min(block_size, total - start)
                out[i] = crc32c_update(0, p + start, <size_t>length)
    else:
        for i in range(count):
            start = i * block_size
            length = min(block_size, total - start)
            out[i] = crc32c_update(0, p + start, <size_t>length)
    return out


def chunk_checksums(data, Py_ssize_t block_size):
    """CRC32C of each consecutive ``block_size`` block of ``data`` (last may be short)."""
    if block_size <= 0:
        raise ValueError(f"block_size must be > 0, got {block_size}")
    cdef Py_buffer buf
    cdef uint32_t *crcs = NULL
    cdef Py_ssize_t count, i
    cdef list result
    PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
    try:
        count = (buf.len + block_size - 1) // block_size
        crcs = _block_crcs(<const unsigned char *>buf.buf, buf.len, block_size, count)
        result = [crcs[i] for i in range(count)]
    finally:
        PyBuffer_Release(&buf)
        free(crcs)
    return result


def split_blocks(data, Py_ssize_t block_size):
    """The chunk-and-checksum pass: ``[(view, crc32c(view)), ...]`` per block.

    Views are zero-copy slices of ``data`` (``view.obj is data``), so the caller must
    keep ``data`` unchanged while it uses them. The last block may be short.
    """
    if block_size <= 0:
        raise ValueError(f"block_size must be > 0, got {block_size}")
    cdef object view = _byte_view(data)
    cdef Py_buffer *buf = _view_buffer(view)
    cdef Py_ssize_t total = buf.len
    cdef Py_ssize_t count = (total + block_size - 1) // block_size
    cdef uint32_t *crcs = _block_crcs(<const unsigned char *>buf.buf, total, block_size, count)
    cdef Py_ssize_t i, start
    cdef list result = []
    try:
        if count == 1:
            result.append((view, crcs[0]))
        else:
            for i in range(count):
                start = i * block_size
                result.append((view[start:start + block_size], crcs[i]))
    finally:
        free(crcs)
    return result


cdef class StripeCutter:
    """Cuts a stream of arbitrarily sized chunks into fixed-size stripes.

    ``feed()`` returns the stripes each chunk completes. A stripe lying wholly inside
    one chunk is a zero-copy memoryview slice of that chunk (keep the chunk alive and
    unchanged while the stripe is in use); a stripe straddling chunks is assembled into
    a fresh bytearray of its own, never reused. ``flush()`` returns the final partial
    stripe. Not thread-safe: one cutter per stream.
    """

    cdef readonly Py_ssize_t stripe_size
    cdef bytearray _pending   # stripe being assembled across chunks, or None
    cdef Py_ssize_t _filled   # bytes of _pending in use

    def __cinit__(self, Py_ssize_t stripe_size):
        if stripe_size <= 0:
            raise ValueError(f"stripe_size must be > 0, got {stripe_size}")
        self.stripe_size = stripe_size
        self._pending = None
        self._filled = 0

    @property
    def buffered(self):
        """Bytes received but not yet returned in a stripe."""
        return self._filled

    cdef bytearray _start_pending(self):
        # Uninitialised storage: every byte is written before the stripe is returned.
        self._pending = PyByteArray_FromStringAndSize(NULL, self.stripe_size)
        self._filled = 0
        return self._pending

    def feed(self, data):
        """Add a chunk; return the list of stripes it completes (possibly empty)."""
        cdef object view = _byte_view(data)
        cdef Py_buffer *buf = _view_buffer(view)
        cdef Py_ssize_t n = buf.len
        cdef const unsigned char *src = <const unsigned char *>buf.buf
        cdef Py_ssize_t size = self.stripe_size
        cdef Py_ssize_t pos = 0, take
        cdef list out = []
        if self._filled:
            take = min(size - self._filled, n)
            memcpy(PyByteArray_AS_STRING(self._pending) + self._filled, src, <size_t>take)
            self._filled += take
            pos = take
            if self._filled == size:
                out.append(memoryview(self._pending))
                self._pending = None
                self._filled = 0
        while n - pos >= size:
            out.append(view if (pos == 0 and n == size) else view[pos:pos + size])
            pos += size
        if pos < n:
            self._start_pending()
            memcpy(PyByteArray_AS_STRING(self._pending), src + pos, <size_t>(n - pos))
            self._filled = n - pos
        return out

    def flush(self):
        """Return the final partial stripe as a memoryview, or None if nothing is pending."""
        if self._filled == 0:
            return None
        cdef bytearray tail = self._pending
        # Shrink before any view exists (resizing an exported bytearray is refused).
        PyByteArray_Resize(tail, self._filled)
        self._pending = None
        self._filled = 0
        return memoryview(tail)


def start_writeback(int fd, long long offset, long long length):
    """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd`` to disk now,
    without waiting (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``).

    A hint, not durability: a later fsync is still what makes the data durable, but it
    finds less left to write, so a large file's fsync no longer costs the whole file's
    writeback at the end. Returns False where the call is not available or failed (an
    I/O error shows up again at the fsync).
    """
    cdef int result
    with nogil:
        result = engine_start_writeback(fd, offset, length)
    return result == 0
