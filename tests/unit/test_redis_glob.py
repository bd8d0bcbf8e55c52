"""Redis glob patterns, pinned to Redis's documented behaviour (KEYS' examples) and the
edges of its stringmatchlen (escapes, unclosed sets, reversed ranges, empty strings)."""

from __future__ import annotations

import time

import pytest

from engine.cache.glob import glob_match

# KEYS documentation: "Supported glob-style patterns".
KEYS_DOC = [
    ("h?llo", ["hello", "hallo", "hxllo"], ["hllo", "heello"]),
    ("h*llo", ["hllo", "heeeello"], ["hell", "ahllo"]),
    ("h[ae]llo", ["hello", "hallo"], ["hillo"]),
    ("h[^e]llo", ["hallo", "hbllo"], ["hello"]),
    ("h[a-b]llo", ["hallo", "hbllo"], ["hcllo"]),
]


@pytest.mark.parametrize(("pattern", "matches", "misses"), KEYS_DOC)
def test_the_keys_documentation_examples(pattern, matches, misses):
    assert all(glob_match(pattern, m) for m in matches)
    assert not any(glob_match(pattern, m) for m in misses)


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("app:*", "app:1", True),
    ("app:*", "app:", True),
    ("app:*", "ap", False),
    ("*", "anything", True),
    ("*", "", False),  # Redis: only an empty pattern matches an empty string
    ("", "", True),
    ("a**b", "axxb", True),
    (r"h\*llo", "h*llo", True),
    (r"h\*llo", "hello", False),
    (r"\?", "?", True),
    ("[z-a]", "m", True),  # a reversed range is swapped
    ("[abc", "b", True),  # an unclosed set ends with the pattern
    (r"[\]]", "]", True),
    ("[^a-c]x", "dx", True),
    ("[^a-c]x", "bx", False),
    ("ab\\", "ab\\", True),  # a trailing backslash is itself
    ("Cached:*", "cached:1", False),  # case-sensitive
])
def test_edges_as_redis_matches_them(pattern, value, expected):
    assert glob_match(pattern, value) is expected


def test_bytes_that_are_not_utf8_match_too():
    assert glob_match(b"k\xff?", b"k\xff\x00")
    assert glob_match("é*", "étoile")


def test_a_hostile_pattern_is_not_exponential():
    started = time.perf_counter()
    assert not glob_match("a*" * 30 + "b", "a" * 3000)
    assert time.perf_counter() - started < 5
