"""What the primary/replica full copies (hand-back, resync) take from a store: the
clients' keys and the object read cache's, never the memcached endpoint's items, which
belong to the node that took them (memcached has no server-side replication)."""

from __future__ import annotations

from engine.cache.local import OBJECTS, USER
from engine.cache.service import CacheService
from engine.cache.slots import SlotMap, key_slot
from engine.cache.store import CacheStore
from engine.clock import ManualClock

MEMCACHED = b"m"  # engine/api/memcached/items.py


def test_full_copies_leave_memcached_items_behind() -> None:
    store = CacheStore(1 << 20, ManualClock())
    slots = SlotMap.build([("n1", "az1"), ("n2", "az2")], 1)
    service = CacheService(store, "n1", slots)
    for ns in (USER, OBJECTS, MEMCACHED):
        store.set(ns + b"k", b"v")
    owners = slots.owners(key_slot(b"k"))
    assert sorted(service._keys_of(owners)) == sorted([USER + b"k", OBJECTS + b"k"])
