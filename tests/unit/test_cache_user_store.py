"""ElastiCache users in the identity machine: ids, names, the default user, appends in log
order, quotas, and the stored record (pinned: it is a format, and holds no password)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_machines import MachineHarness

from engine.cluster.consensus.machine import Rejected
from engine.iam.redis_acl import password_hash
from engine.iam.store import cache_users
from engine.iam.store.machine import IdentityMachine
from engine.iam.store.state import dumps

NOW = "2026-12-07T10:00:00Z"


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MachineHarness]:
    harness = MachineHarness(IdentityMachine(), tmp_path)
    yield harness
    harness.close()


def run(h: MachineHarness, op: str, **fields) -> dict:
    return json.loads(h.apply(dumps({"op": op, "now": NOW, **fields})))


def refused(h: MachineHarness, op: str, **fields) -> tuple[str, str]:
    with pytest.raises(Rejected) as err:
        run(h, op, **fields)
    return err.value.code, err.value.message


def user(user_id: str, name: str | None = None, access: str = "on ~app:* +@read") -> dict:
    return {"id": user_id, "name": name or user_id, "engine": "redis", "access": access,
            "auth": "password", "passwords": [password_hash("a-long-password-0001")]}


def test_the_stored_record_is_pinned_and_holds_only_hashes(h):
    run(h, "create_cache_user", record=user("alice"))
    stored = h.read(lambda k: k.get(b"c/alice"))
    assert stored == (
        b'{"access":"on ~app:* +@read","auth":"password","created":"2026-12-07T10:00:00Z",'
        b'"engine":"redis","id":"alice","name":"alice","passwords":["'
        + password_hash("a-long-password-0001").encode() + b'"]}')
    assert b"a-long-password-0001" not in stored


def test_ids_and_names_are_unique(h):
    run(h, "create_cache_user", record=user("alice"))
    assert refused(h, "create_cache_user", record=user("alice", "other")) == (
        "UserAlreadyExists", "User alice already exists.")
    assert refused(h, "create_cache_user", record=user("bob", "alice")) == (
        "DuplicateUserName", "User name alice already exists.")
    assert refused(h, "modify_cache_user", id="nobody", access="on") == (
        "UserNotFound", "User nobody not found.")
    assert refused(h, "delete_cache_user", id="nobody") == ("UserNotFound",
                                                            "User nobody not found.")


def test_the_default_user_exists_off_and_cannot_be_deleted(h):
    [default] = h.read(cache_users.all_users)
    assert default == {"id": "default", "name": "default", "engine": "redis",
                       "access": "off ~* +@all", "auth": "no-password", "passwords": [],
                       "created": ""}
    assert refused(h, "create_cache_user", record=user("default")) == (
        "UserAlreadyExists", "User default already exists.")
    assert refused(h, "delete_cache_user", id="default")[0] == "InvalidParameterValue"
    changed = run(h, "modify_cache_user", id="default", access="on ~* +@all",
                  auth="password", passwords=[password_hash("a-long-password-0002")])
    assert changed["access"] == "on ~* +@all" and changed["auth"] == "password"
    assert h.read(lambda k: cache_users.get(k, "default"))["access"] == "on ~* +@all"


def test_one_other_user_may_take_the_name_default(h):
    run(h, "create_cache_user", record=user("new-default", "default"))
    assert refused(h, "create_cache_user", record=user("third", "default")) == (
        "DuplicateUserName", "User name default already exists.")
    assert [u["id"] for u in h.read(cache_users.all_users)] == ["default", "new-default"]


def test_appends_join_in_log_order_and_are_checked_whole(h):
    run(h, "create_cache_user", record=user("alice", access="on ~app:*"))
    run(h, "modify_cache_user", id="alice", append="+get")
    assert run(h, "modify_cache_user", id="alice", append="+set")["access"] == (
        "on ~app:* +get +set")
    code, message = refused(h, "modify_cache_user", id="alice", append="allkeys ~more:*")
    assert code == "InvalidParameterValue"
    assert message.startswith("Access string is invalid: Adding a pattern after the *")
    assert h.read(lambda k: cache_users.get(k, "alice"))["access"] == "on ~app:* +get +set"


def test_iam_users_keep_id_and_name_equal(h):
    run(h, "create_cache_user", record=user("alice", "Alice-Name"))
    assert refused(h, "modify_cache_user", id="alice", auth="iam", passwords=[]) == (
        "InvalidParameterCombination",
        "User Id and User name must be same for authentication type: iam")


def test_the_user_quota(h, monkeypatch):
    monkeypatch.setattr(cache_users, "QUOTA", 3)
    run(h, "create_cache_user", record=user("a"))
    run(h, "create_cache_user", record=user("b"))
    assert refused(h, "create_cache_user", record=user("c")) == (
        "UserQuotaExceeded", "The quota of users has been exceeded.")
    run(h, "delete_cache_user", id="a")
    run(h, "create_cache_user", record=user("c"))
