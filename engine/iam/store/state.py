"""The identity machine's keyspace: one JSON record per entity, keyed by kind and name.

JSON (sorted keys, no whitespace) is the stored and logged format: explicit, readable in
a dump, and deterministic, so every replica writes the same bytes. Names are keyed by
their case-folded form (IAM names are unique ignoring case); records keep the name as
given. Keys:

| key | record |
|-----|--------|
| ``a`` | the account: id, root access key id, creation time |
| ``u/<name>`` | a user: id, path, arn, created, groups, inline, attached, keys, tags |
| ``g/<name>`` | a group: id, path, arn, created, members, inline, attached |
| ``r/<name>`` | a role: id, path, arn, created, trust, max_session, inline, attached |
| ``p/<name>`` | a managed policy: id, path, arn, versions, default, attachments |
| ``k/<key id>`` | an access key: user ("" for root), status, sealed secret, created, last used |
| ``c/<user id>`` | an ElastiCache user: name, engine, access string, auth, password hashes |
| ``n`` | a counter bumped by every change: caches compare it |
| ``s/<name>`` | an account setting: ``s3-public-access-block`` (``null`` once deleted) |
"""

from __future__ import annotations

import json
from typing import Any

from engine.cluster.consensus.machine import Keyspace, ReadKeyspace, Rejected

Record = dict[str, Any]
KINDS = {"user": b"u/", "group": b"g/", "role": b"r/", "policy": b"p/", "key": b"k/",
         "cache_user": b"c/"}
ACCOUNT, REVISION = b"a", b"n"
# Entity names in AWS's error messages.
TITLES = {"user": "user", "group": "group", "role": "role", "policy": "policy",
          "key": "Access Key", "cache_user": "cache user"}


def dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def key_of(kind: str, name: str) -> bytes:
    return KINDS[kind] + (name if kind == "key" else name.lower()).encode()


def read(keys: ReadKeyspace, kind: str, name: str) -> Record | None:
    data = keys.get(key_of(kind, name))
    return None if data is None else json.loads(data)


def read_all(keys: ReadKeyspace, kind: str) -> list[Record]:
    return [json.loads(v) for _, v in keys.prefix(KINDS[kind])]


def account(keys: ReadKeyspace) -> Record | None:
    data = keys.get(ACCOUNT)
    return None if data is None else json.loads(data)


SETTINGS = b"s/"


def setting(keys: ReadKeyspace, name: str) -> tuple[bool, Any]:
    """(whether the setting was ever stored, its value): an absent one is the default."""
    data = keys.get(SETTINGS + name.encode())
    return (False, None) if data is None else (True, json.loads(data))


def revision(keys: ReadKeyspace) -> int:
    data = keys.get(REVISION)
    return 0 if data is None else int(data)


class State:
    """The keyspace during one apply: typed reads, writes that bump the revision."""

    def __init__(self, keys: Keyspace) -> None:
        self.keys = keys

    def get(self, kind: str, name: str) -> Record | None:
        return read(self.keys, kind, name)

    def need(self, kind: str, name: str) -> Record:
        record = self.get(kind, name)
        if record is None:
            raise Rejected("NoSuchEntity", f"The {TITLES[kind]} with name {name} cannot be "
                           "found." if kind != "key" else
                           f"The Access Key with id {name} cannot be found.")
        return record

    def absent(self, kind: str, name: str) -> None:
        if self.get(kind, name) is not None:
            raise Rejected("EntityAlreadyExists",
                           f"{TITLES[kind].capitalize()} with name {name} already exists.")

    def put(self, kind: str, record: Record) -> None:
        name = record["id"] if kind in ("key", "cache_user") else record["name"]
        self.keys.put(key_of(kind, name), dumps(record))
        self.bump()

    def delete(self, kind: str, name: str) -> None:
        self.keys.delete(key_of(kind, name))
        self.bump()

    def count(self, kind: str) -> int:
        return sum(1 for _ in self.keys.prefix(KINDS[kind]))

    def account(self) -> Record | None:
        return account(self.keys)

    def put_account(self, record: Record) -> None:
        self.keys.put(ACCOUNT, dumps(record))
        self.bump()

    def put_setting(self, name: str, value: Any) -> None:
        self.keys.put(SETTINGS + name.encode(), dumps(value))
        self.bump()

    def bump(self) -> None:
        self.keys.put(REVISION, str(revision(self.keys) + 1).encode())
