"""engine._hotpath: CRC32C (hardware and portable paths), combination, zero-copy cutting.

The PyPI ``crc32c`` package is the oracle: every path must agree with it bit for bit,
including at the boundaries of the three-stream interleave tiers.
"""

from __future__ import annotations

import array
import itertools
import mmap
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import crc32c as reference
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import _hotpath as hp

IMPLS = [pytest.param(hp.crc32c, id="dispatch"), pytest.param(hp.crc32c_software, id="software")]

# RFC 3720 appendix B.4 plus the classic check value.
VECTORS = [
    (b"", 0),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]

# Sizes around every place the hardware loop changes strategy: 8-byte words and the
# three-stream rounds of each interleave tier (3 x 64 B, 3 x 336 B, 3 x 1360 B, 3 x 8 KiB),
# alone and chained, plus the power-of-two sizes the tiers are tuned for.
TIERS = (64, 336, 1360, 8192)
BOUNDARIES = sorted(
    {n + d for n in (8, *(3 * t for t in TIERS), 1024, 4096) for d in (-1, 0, 1)}
    | {3 * 8192 + 3 * 1360 + 3 * 336 + 3 * 64 + 15, 2 * 3 * 8192 + 7, 100_003}
)

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seeded_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Small fully random inputs plus large ones generated from a seed (hypothesis cannot
# efficiently generate tens of KiB itself); the large sizes hug the interleave borders.
large_data = st.builds(
    seeded_bytes,
    st.sampled_from(BOUNDARIES) | st.integers(0, 80_000),
    st.integers(0, 2**32 - 1),
)
any_data = st.binary(max_size=2048) | large_data
crc_values = st.integers(0, 2**32 - 1)


def with_block_size(max_size: int) -> st.SearchStrategy[tuple[bytes, int]]:
    """Data plus a block/stripe size, floored so one example makes at most ~300 blocks."""
    return any_data.flatmap(
        lambda d: st.tuples(st.just(d), st.integers(max(1, len(d) // 300), max_size))
    )


# ---------------------------------------------------------------- CRC32C values


@pytest.mark.parametrize("fn", IMPLS)
@pytest.mark.parametrize(("data", "expected"), VECTORS, ids=lambda v: f"{v!r}"[:20])
def test_known_vectors(fn: Callable[..., int], data: bytes, expected: int) -> None:
    assert fn(data) == expected
    half = len(data) // 2
    assert fn(data[half:], value=fn(data[:half])) == expected


def test_backend_is_detected() -> None:
    assert hp.backend() in {"sse4.2", "armv8-crc", "software"}
    if os.environ.get("ENGINE_CRC32C", "").lower() == "software":
        assert hp.backend() == "software"
    elif platform.machine() in ("x86_64", "AMD64"):
        with open("/proc/cpuinfo") as f:
            has_sse42 = " sse4_2" in f.read()
        assert hp.backend() == ("sse4.2" if has_sse42 else "software")


@pytest.mark.parametrize("fn", IMPLS)
@RELAXED
@given(data=any_data, offset=st.integers(0, 7), value=crc_values)
def test_matches_reference(fn: Callable[..., int], data: bytes, offset: int, value: int) -> None:
    view = memoryview(data)[offset:]  # misaligned starts exercise the byte prologue
    assert fn(view, value) == reference.crc32c(view, value)


@pytest.mark.parametrize("fn", IMPLS)
@pytest.mark.parametrize("size", BOUNDARIES)
def test_interleave_boundaries(fn: Callable[..., int], size: int) -> None:
    data = seeded_bytes(size + 8, size)
    for offset in (0, 1, 5):
        chunk = data[offset : offset + size]
        assert fn(chunk) == reference.crc32c(chunk), (size, offset)


@pytest.mark.parametrize("fn", IMPLS)
@RELAXED
@given(data=any_data, cuts=st.lists(st.floats(0, 1), max_size=6))
def test_continuation_over_random_splits(
    fn: Callable[..., int], data: bytes, cuts: list[float]
) -> None:
    points = sorted(int(c * len(data)) for c in cuts)
    crc, start = 0, 0
    for point in [*points, len(data)]:
        crc = fn(data[start:point], crc)
        start = point
    assert crc == reference.crc32c(data)


@pytest.mark.parametrize("fn", IMPLS)
def test_accepts_any_contiguous_buffer(fn: Callable[..., int]) -> None:
    raw = seeded_bytes(40_000, 7)
    expected = reference.crc32c(raw)
    words = array.array("I")
    words.frombytes(raw)
    with mmap.mmap(-1, len(raw)) as mapped:
        mapped.write(raw)
        for buf in (raw, bytearray(raw), memoryview(raw), words, mapped):
            assert fn(buf) == expected, type(buf)


# ---------------------------------------------------------------- combination


@RELAXED
@given(a=any_data, b=any_data)
def test_combine_matches_concatenation(a: bytes, b: bytes) -> None:
    assert hp.crc32c_combine(hp.crc32c(a), hp.crc32c(b), len(b)) == reference.crc32c(a + b)


def test_combine_zero_length_is_identity() -> None:
    assert hp.crc32c_combine(0x12345678, 0, 0) == 0x12345678


def test_combine_by_doubling_zero_runs() -> None:
    # crc(0^(2n)) = combine(crc(0^n), crc(0^n), n): 20 doublings use the x^(2^k) table
    # up to 1 MiB, checked against the direct CRC.
    crc, length = hp.crc32c(b"\0"), 1
    while length < 1 << 20:
        crc, length = hp.crc32c_combine(crc, crc, length), 2 * length
    assert crc == reference.crc32c(bytes(length))


@given(
    crcs=st.lists(crc_values, min_size=3, max_size=3),
    lens=st.lists(st.integers(0, 2**62), min_size=2, max_size=2),
)
def test_combine_is_associative_for_huge_lengths(crcs: list[int], lens: list[int]) -> None:
    a, b, c = crcs
    lb, lc = lens
    left = hp.crc32c_combine(hp.crc32c_combine(a, b, lb), c, lc)
    right = hp.crc32c_combine(a, hp.crc32c_combine(b, c, lc), lb + lc)
    assert left == right


@RELAXED
@given(case=with_block_size(9000))
def test_chunk_checksums_and_combine_checksums(case: tuple[bytes, int]) -> None:
    data, block_size = case
    crcs = hp.chunk_checksums(data, block_size)
    expected = [reference.crc32c(data[i : i + block_size]) for i in range(0, len(data), block_size)]
    assert crcs == expected
    last_len = len(data) - (len(crcs) - 1) * block_size if crcs else 0
    assert hp.combine_checksums(crcs, block_size, last_len) == reference.crc32c(data)
    assert hp.combine_checksums(tuple(crcs), block_size, last_len) == reference.crc32c(data)


def test_combine_checksums_many_blocks() -> None:
    data = seeded_bytes(5000 * 64 + 17, 3)
    crcs = hp.chunk_checksums(data, 64)
    assert len(crcs) == 5001
    assert hp.combine_checksums(crcs, 64, 17) == reference.crc32c(data)


def test_empty_inputs() -> None:
    assert hp.combine_checksums([], 4096, 0) == 0
    assert hp.chunk_checksums(b"", 4096) == []
    assert hp.split_blocks(b"", 4096) == []


# ---------------------------------------------------------------- split_blocks


@RELAXED
@given(case=with_block_size(9000))
def test_split_blocks_slices_and_checksums(case: tuple[bytes, int]) -> None:
    data, block_size = case
    blocks = hp.split_blocks(data, block_size)
    assert b"".join(view for view, _ in blocks) == data
    for index, (view, crc) in enumerate(blocks):
        assert view.obj is data  # a slice of the input, not a copy
        assert len(view) == min(block_size, len(data) - index * block_size)
        assert crc == reference.crc32c(view)


def test_split_blocks_shares_memory_with_bytearray() -> None:
    buf = bytearray(seeded_bytes(10_000, 5))
    blocks = hp.split_blocks(buf, 4096)
    buf[4096] ^= 0xFF
    buf[-1] ^= 0xFF
    assert blocks[1][0][0] == buf[4096]
    assert blocks[2][0][-1] == buf[-1]


def test_split_blocks_of_wide_items_yields_byte_views() -> None:
    words = array.array("I", range(1000))
    blocks = hp.split_blocks(words, 1000)
    assert [len(v) for v, _ in blocks] == [1000, 1000, 1000, 1000]
    assert all(v.format == "B" and v.obj is words for v, _ in blocks)
    assert b"".join(v for v, _ in blocks) == words.tobytes()


# ---------------------------------------------------------------- StripeCutter


@RELAXED
@given(case=with_block_size(5000), cuts=st.lists(st.floats(0, 1), max_size=12))
def test_stripe_cutter_yields_stripes_of_the_concatenation(
    case: tuple[bytes, int], cuts: list[float]
) -> None:
    data, stripe_size = case
    points = [0, *sorted(int(c * len(data)) for c in cuts), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    cutter = hp.StripeCutter(stripe_size)
    stripes: list[memoryview] = []
    fed = 0
    for chunk in chunks:
        chunk_start = fed
        fed += len(chunk)
        for stripe in cutter.feed(chunk):
            # A stripe starting inside this chunk lies wholly in it (it was completed
            # by it), so it must be a slice of it; one that started earlier is a copy.
            starts_inside = len(stripes) * stripe_size >= chunk_start
            assert (stripe.obj is chunk) == starts_inside
            stripes.append(stripe)
        assert cutter.buffered == fed % stripe_size
    tail = cutter.flush()
    if tail is not None:
        stripes.append(tail)
    assert cutter.buffered == 0
    assert cutter.flush() is None
    # Compared only after every feed: a reused assembly buffer would show up here.
    expected = [data[i : i + stripe_size] for i in range(0, len(data), stripe_size)]
    assert [bytes(s) for s in stripes] == expected


def test_stripe_cutter_is_zero_copy_for_aligned_chunks() -> None:
    chunks = [seeded_bytes(3 * 1024, 1), seeded_bytes(1024, 2), seeded_bytes(5 * 1024, 3)]
    cutter = hp.StripeCutter(1024)
    for chunk in chunks:
        stripes = cutter.feed(chunk)
        assert [bytes(s) for s in stripes] == [
            chunk[i : i + 1024] for i in range(0, len(chunk), 1024)
        ]
        assert all(s.obj is chunk for s in stripes)
        assert cutter.buffered == 0
    assert cutter.flush() is None


def test_stripe_cutter_straddling_stripes_own_fresh_buffers() -> None:
    cutter = hp.StripeCutter(4)
    first = cutter.feed(b"ab") + cutter.feed(b"cdef")  # "abcd" straddles, "ef" pending
    second = cutter.feed(b"ghij")  # "efgh" straddles, "ij" pending
    tail = cutter.flush()
    assert [bytes(s) for s in first] == [b"abcd"]
    assert [bytes(s) for s in second] == [b"efgh"]
    assert tail is not None and bytes(tail) == b"ij"
    assert first[0].obj is not second[0].obj is not tail.obj
    # Full stripes that lie inside a chunk after a straddling one are still slices.
    chunk = b"xy" + b"z" * 8
    cutter = hp.StripeCutter(4)
    cutter.feed(b"ww")
    stripes = cutter.feed(chunk)
    assert [bytes(s) for s in stripes] == [b"wwxy", b"zzzz", b"zzzz"]
    assert stripes[0].obj is not chunk and stripes[1].obj is chunk and stripes[2].obj is chunk


def test_stripe_cutter_accepts_bytearray_and_memoryview() -> None:
    cutter = hp.StripeCutter(3)
    out = cutter.feed(bytearray(b"abcd")) + cutter.feed(memoryview(b"efghi")[1:])
    assert [bytes(s) for s in out] == [b"abc", b"dfg"]
    assert cutter.stripe_size == 3
    assert cutter.buffered == 2


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("fn", IMPLS)
def test_crc_rejects_bad_input(fn: Callable[..., int]) -> None:
    with pytest.raises((ValueError, BufferError)):
        fn(memoryview(b"abcdef")[::2])
    for not_a_buffer in ("text", 12, None, [1, 2]):
        with pytest.raises(TypeError):
            fn(not_a_buffer)
    for bad_value in (-1, 2**32):
        with pytest.raises((OverflowError, ValueError)):
            fn(b"x", bad_value)


@pytest.mark.parametrize("size", [0, -1])
def test_sizes_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="block_size"):
        hp.chunk_checksums(b"abc", size)
    with pytest.raises(ValueError, match="block_size"):
        hp.split_blocks(b"abc", size)
    with pytest.raises(ValueError, match="block_size"):
        hp.combine_checksums([1], size, 1)
    with pytest.raises(ValueError, match="stripe_size"):
        hp.StripeCutter(size)


def test_other_bad_arguments() -> None:
    with pytest.raises(ValueError, match="last_len"):
        hp.combine_checksums([1, 2], 4, -1)
    with pytest.raises(OverflowError):
        hp.combine_checksums([1, 2**32], 4, 4)
    with pytest.raises(TypeError):
        hp.combine_checksums([1, "2"], 4, 4)
    with pytest.raises(OverflowError):
        hp.crc32c_combine(1, 2, -1)
    with pytest.raises((ValueError, BufferError)):
        hp.split_blocks(memoryview(b"abcdef")[::2], 2)
    with pytest.raises((ValueError, BufferError)):
        hp.StripeCutter(2).feed(memoryview(b"abcdef")[::2])
    with pytest.raises(TypeError):
        hp.StripeCutter(2).feed("text")


# ---------------------------------------------------------------- forced fallback

FALLBACK_SCRIPT = """
import random, sys
from engine import _hotpath as hp
rng = random.Random(11)
sizes = [0, 9, 255, 769, 8193, 24577, 100003]
data = [rng.randbytes(n) for n in sizes]
print(hp.backend())
print(" ".join(str(hp.crc32c(d)) for d in data))
print(" ".join(str(c) for c in hp.chunk_checksums(data[-1], 1000)))
"""


def test_env_var_forces_software_fallback() -> None:
    env = {**os.environ, "ENGINE_CRC32C": "software"}
    out = subprocess.run(
        [sys.executable, "-c", FALLBACK_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split("\n")
    assert out[0] == "software"
    rng = random.Random(11)
    data = [rng.randbytes(n) for n in (0, 9, 255, 769, 8193, 24577, 100003)]
    assert [int(x) for x in out[1].split()] == [reference.crc32c(d) for d in data]
    big = data[-1]
    expected = [reference.crc32c(big[i : i + 1000]) for i in range(0, len(big), 1000)]
    assert [int(x) for x in out[2].split()] == expected


# ---------------------------------------------------------------- GIL release

BIG = 256 << 20


@pytest.fixture(scope="module")
def big_buffer():
    # Anonymous mapping: reads hit the shared zero page, so 256 MiB costs no RSS.
    with mmap.mmap(-1, BIG) as mapped:
        yield mapped


@pytest.mark.parametrize(
    "work",
    [
        pytest.param(hp.crc32c, id="crc32c"),
        pytest.param(hp.crc32c_software, id="crc32c_software"),
        pytest.param(lambda b: hp.chunk_checksums(b, 1 << 20), id="chunk_checksums"),
        pytest.param(lambda b: hp.split_blocks(b, 1 << 20), id="split_blocks"),
    ],
)
def test_gil_is_released_during_long_calls(work: Callable[[object], object], big_buffer) -> None:
    """The main thread's Python loop must advance while a worker is inside one call.

    With a switch interval of 100 s the interpreter never forces a GIL hand-off, so a
    call that kept the GIL would let the main thread run zero iterations during it —
    a deterministic failure, not a timing one. The worker repeats the call until the
    main thread has been seen to advance inside one (or a generous deadline passes),
    which keeps the pass robust on a loaded machine.
    """
    ticks = [0]
    progress_inside_calls = [0]
    calls = [0]
    done = threading.Event()

    def worker() -> None:
        deadline = time.monotonic() + 8
        try:
            while progress_inside_calls[0] == 0 and time.monotonic() < deadline:
                before = ticks[0]
                work(big_buffer)
                progress_inside_calls[0] += ticks[0] - before
                calls[0] += 1
        finally:
            done.set()

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        while not done.is_set():
            ticks[0] += 1
            time.sleep(0.0005)  # blocks without the GIL, so the worker can take it back
        thread.join(30)
    finally:
        sys.setswitchinterval(old_interval)
    assert calls[0] >= 1
    assert progress_inside_calls[0] > 0, f"main thread stalled during {calls[0]} calls"
