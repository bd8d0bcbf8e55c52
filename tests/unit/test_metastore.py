"""MetaStore on a real LMDB: volumes, atomic updates with garbage tracking, and listing
checked against a brute-force model, including keys long enough to overflow LMDB keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.storage import keyspace
from engine.storage.errors import VolumeExists, VolumeNotEmpty, VolumeNotFound
from engine.storage.metastore import GARBAGE, MetaStore, data_ids, successor
from engine.v1.records_pb2 import (
    BucketRecord,
    DataLayout,
    MultipartBody,
    ObjectEntry,
    ObjectVersion,
    PartBody,
)

MAP = 1 << 28


def entry(tag: str, data_id: str = "") -> ObjectEntry:
    v = ObjectVersion(version_id="null", etag=tag)
    if data_id:
        v.layout.data_id = data_id
    else:
        v.inline_data = tag.encode()
    return ObjectEntry(versions=[v])


def put(store: MetaStore, bucket: str, key: str, e: ObjectEntry | None) -> list[str]:
    return store.update_entry(bucket, key, lambda _old: e)


@pytest.fixture
def store(tmp_path: Path) -> MetaStore:
    s = MetaStore(tmp_path / "meta", MAP)
    s.make_volume(BucketRecord(name="b"))
    yield s
    s.close()


def test_volumes_are_unique_and_only_empty_ones_can_be_dropped(store: MetaStore) -> None:
    with pytest.raises(VolumeExists):
        store.make_volume(BucketRecord(name="b"))
    put(store, "b", "k", entry("x"))
    with pytest.raises(VolumeNotEmpty):
        store.delete_volume("b")
    put(store, "b", "k", None)
    store.delete_volume("b")
    with pytest.raises(VolumeNotFound):
        store.delete_volume("b")
    assert store.list_volumes() == []


def test_no_commit_into_a_missing_volume(store: MetaStore) -> None:
    with pytest.raises(VolumeNotFound):
        put(store, "nope", "k", entry("x"))


def test_a_bucket_whose_name_prefixes_another_keeps_its_own_keys(store: MetaStore) -> None:
    store.make_volume(BucketRecord(name="b-2"))
    put(store, "b", "k", entry("1"))
    put(store, "b-2", "k", entry("2"))
    assert [k for k, _ in store.list_entries("b", "", "", "", 10)] == ["k"]
    with pytest.raises(VolumeNotEmpty):
        store.delete_volume("b-2")


def test_replaced_data_becomes_garbage_in_the_same_commit(store: MetaStore) -> None:
    store.add_intent("d1")
    assert store.update_entry("b", "k", lambda _o: entry("a", "d1"), commit_intent="d1") == []
    assert store.intents() == {}
    store.add_intent("d2")
    garbage = store.update_entry("b", "k", lambda _o: entry("b", "d2"), commit_intent="d2")
    assert garbage == ["d1"]
    assert store.intents() == {"d1": GARBAGE}
    store.clear_intents(garbage)
    assert put(store, "b", "k", None) == ["d2"]


def test_every_stored_part_of_a_multipart_object_is_its_data(store: MetaStore) -> None:
    parts = MultipartBody(parts=[
        PartBody(number=1, layout=DataLayout(data_id="p1")),
        PartBody(number=2, inline_data=b"small"),
        PartBody(number=3, layout=DataLayout(data_id="p3")),
    ])
    multipart = ObjectVersion(version_id="v2", parts=parts)
    older = entry("a", "d1").versions[0]
    put(store, "b", "k", ObjectEntry(versions=[multipart, older]))
    assert data_ids(store.get_entry("b", "k")) == {"p1", "p3", "d1"}
    assert put(store, "b", "k", entry("c")) == ["d1", "p1", "p3"]
    assert store.intents() == {"d1": GARBAGE, "p1": GARBAGE, "p3": GARBAGE}


def test_a_failing_update_changes_nothing(store: MetaStore) -> None:
    put(store, "b", "k", entry("a", "d1"))
    store.add_intent("d2")

    def boom(_old: ObjectEntry | None) -> ObjectEntry:
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.update_entry("b", "k", boom, commit_intent="d2")
    assert store.get_entry("b", "k").versions[0].etag == "a"
    assert store.intents() == {"d2": b"P"}


def test_long_keys_share_overflow_records_but_stay_distinct(store: MetaStore) -> None:
    base = "p" * keyspace.DIRECT_LIMIT
    keys = [base, base + "a", base + "b/c", "p" * 1024]
    for i, k in enumerate(keys):
        put(store, "b", k, entry(str(i)))
    for i, k in enumerate(keys):
        assert store.get_entry("b", k).versions[0].etag == str(i)
    assert store.count_records() == 1
    put(store, "b", base + "a", None)
    assert store.get_entry("b", base + "a") is None
    assert [k for k, _ in store.list_entries("b", "", "", "", 10)] == sorted(
        [base, base + "b/c", "p" * 1024])


def test_successor_is_the_first_string_past_a_prefix() -> None:
    assert successor(b"a/") == b"a0"
    assert successor(b"a\xff") == b"b"
    assert successor(b"a/") > b"a/zzz" and successor(b"a/") <= b"a0"


def model(keys: set[str], prefix: str, delimiter: str, after: str, limit: int
          ) -> list[tuple[str, bool]]:
    items: set[tuple[str, bool]] = set()
    for k in keys:
        if not k.startswith(prefix):
            continue
        cut = k.find(delimiter, len(prefix)) if delimiter else -1
        items.add((k[: cut + len(delimiter)], True) if cut >= 0 else (k, False))
    out = [(name, cp) for name, cp in sorted(items)
           if name > after and not (cp and after.startswith(name))]
    return out[:limit]


ALPHABET = st.characters(exclude_categories=("Cs",), max_codepoint=0x1F600)
LONG = "L" * (keyspace.DIRECT_LIMIT - 3)
KEYS = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(["", "a/", "a/b/", "b", LONG, LONG + "é/", "é" * 230]),
    st.text(alphabet=st.sampled_from("ab/é\x00~") | ALPHABET, max_size=12),
).filter(lambda k: 0 < len(k.encode()) <= 1024)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.sets(KEYS, max_size=25),
    prefix=st.sampled_from(["", "a", "a/", "a/b/", LONG[:10], LONG + "é"]),
    delimiter=st.sampled_from(["", "/", "b", "é/"]),
    after_index=st.integers(min_value=-1, max_value=30),
    limit=st.integers(min_value=1, max_value=8),
)
def test_listing_matches_the_model(tmp_path_factory: pytest.TempPathFactory, keys: set[str],
                                   prefix: str, delimiter: str, after_index: int,
                                   limit: int) -> None:
    store = MetaStore(tmp_path_factory.mktemp("m"), MAP)
    try:
        store.make_volume(BucketRecord(name="b"))
        for k in keys:
            put(store, "b", k, entry("x"))
        expected_all = model(keys, prefix, delimiter, "", 10_000)
        after = "" if after_index < 0 or not expected_all else \
            expected_all[min(after_index, len(expected_all) - 1)][0]
        got = store.list_entries("b", prefix, after, delimiter, limit)
        assert [(n, e is None) for n, e in got] == model(keys, prefix, delimiter, after, limit)
        # paging through with the last item as the marker yields everything exactly once
        seen: list[tuple[str, bool]] = []
        marker = ""
        while True:
            page = store.list_entries("b", prefix, marker, delimiter, limit)
            seen += [(n, e is None) for n, e in page]
            if len(page) < limit:
                break
            marker = page[-1][0]
        assert seen == expected_all
    finally:
        store.close()
