"""The identity machine's rules: existence, case-insensitive names, conflicts, quotas,
and its stored format (a format: pinned)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_machines import MachineHarness

from engine.cluster.consensus.machine import Rejected
from engine.iam.store.machine import IdentityMachine
from engine.iam.store.state import dumps, read

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


def user(name: str) -> dict:
    return {"name": name, "id": "AIDA" + name.upper().ljust(17, "X")[:17], "path": "/",
            "arn": f"arn:aws:iam::123456789012:user/{name}"}


def policy(name: str) -> dict:
    return {"name": name, "id": "ANPA" + "X" * 17, "path": "/",
            "arn": f"arn:aws:iam::123456789012:policy/{name}"}


def test_names_are_unique_ignoring_case_and_kept_as_given(h):
    run(h, "create_user", record=user("Alice"))
    assert refused(h, "create_user", record=user("alice")) == (
        "EntityAlreadyExists", "User with name alice already exists.")
    assert h.read(lambda k: read(k, "user", "ALICE"))["name"] == "Alice"
    assert refused(h, "delete_user", name="bob") == (
        "NoSuchEntity", "The user with name bob cannot be found.")


def test_the_stored_user_record_is_pinned(h):
    run(h, "create_user", record=user("alice"))
    assert h.read(lambda k: k.get(b"u/alice")) == (
        b'{"arn":"arn:aws:iam::123456789012:user/alice","attached":[],'
        b'"created":"2026-12-07T10:00:00Z","groups":[],"id":"AIDAALICEXXXXXXXXXXXX",'
        b'"inline":{},"keys":[],"name":"alice","path":"/"}')


def test_two_keys_per_user_and_deletion_waits_for_them(h):
    run(h, "create_user", record=user("alice"))
    for i in range(2):
        run(h, "create_key", user="alice", key_id=f"AKIA{i:016d}", sealed="s")
    assert refused(h, "create_key", user="alice", key_id="AKIA" + "9" * 16, sealed="s") == (
        "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert refused(h, "delete_user", name="alice") == (
        "DeleteConflict", "Cannot delete entity, must delete access keys first.")
    run(h, "update_key", user="alice", key_id="AKIA" + "0" * 16, status="Inactive")
    assert h.read(lambda k: read(k, "key", "AKIA" + "0" * 16))["status"] == "Inactive"
    # a key is found only through its owner
    assert refused(h, "delete_key", user="", key_id="AKIA" + "0" * 16)[0] == "NoSuchEntity"
    for i in range(2):
        run(h, "delete_key", user="alice", key_id=f"AKIA{i:016d}")
    run(h, "delete_user", name="alice")
    assert h.read(lambda k: read(k, "user", "alice")) is None


def test_groups_members_and_conflicts(h):
    run(h, "create_user", record=user("alice"))
    run(h, "create_group", record={**user("devs"), "arn": "arn:aws:iam::1:group/devs"})
    run(h, "add_user_to_group", group="DEVS", user="alice")
    run(h, "add_user_to_group", group="devs", user="Alice")  # twice: once
    assert h.read(lambda k: read(k, "group", "devs"))["members"] == ["alice"]
    assert refused(h, "delete_group", name="devs")[0] == "DeleteConflict"
    assert refused(h, "delete_user", name="alice") == (
        "DeleteConflict", "Cannot delete entity, must remove users from group first.")
    run(h, "remove_user_from_group", group="devs", user="alice")
    run(h, "delete_group", name="devs")
    run(h, "delete_user", name="alice")


def test_managed_policy_versions_attachments_and_deletion(h):
    arn = policy("read")["arn"]
    run(h, "create_policy", record=policy("read"), doc="{v1}")
    for i in range(2, 6):
        made = run(h, "create_policy_version", arn=arn, doc=f"{{v{i}}}", set_default=i == 3)
        assert made["version"] == f"v{i}"
    assert refused(h, "create_policy_version", arn=arn, doc="{v6}")[0] == "LimitExceeded"
    assert h.read(lambda k: read(k, "policy", "read"))["default"] == "v3"
    assert refused(h, "delete_policy_version", arn=arn, version="v3") == (
        "DeleteConflict", "Cannot delete the default version of a policy.")
    run(h, "create_user", record=user("alice"))
    run(h, "attach", kind="user", name="alice", arn=arn)
    run(h, "attach", kind="user", name="alice", arn=arn)  # attached once
    assert refused(h, "delete_policy", name="read") == (
        "DeleteConflict", "Cannot delete a policy attached to entities.")
    run(h, "detach", kind="user", name="alice", arn=arn)
    assert refused(h, "detach", kind="user", name="alice", arn=arn)[0] == "NoSuchEntity"
    assert refused(h, "delete_policy", name="read")[0] == "DeleteConflict"  # versions left
    for v in ("v1", "v2", "v4", "v5"):
        run(h, "delete_policy_version", arn=arn, version=v)
    run(h, "delete_policy", name="read")
    assert refused(h, "attach", kind="user", name="alice", arn=arn) == (
        "NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")


def test_ten_attached_policies_per_entity(h):
    run(h, "create_user", record=user("alice"))
    for i in range(11):
        run(h, "create_policy", record=policy(f"p{i}"), doc="{}")
    for i in range(10):
        run(h, "attach", kind="user", name="alice", arn=policy(f"p{i}")["arn"])
    assert refused(h, "attach", kind="user", name="alice", arn=policy("p10")["arn"]) == (
        "LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")


def test_inline_policies_share_the_entity_quota(h):
    run(h, "create_user", record=user("alice"))
    run(h, "put_inline", kind="user", name="alice", policy="a", doc="x" * 1000)
    run(h, "put_inline", kind="user", name="alice", policy="A", doc="y" * 2048)  # replaces
    assert refused(h, "put_inline", kind="user", name="alice", policy="b", doc="z") == (
        "LimitExceeded", "Cannot exceed quota for UserPolicySize: 2048")
    run(h, "put_inline", kind="user", name="alice", policy="b", doc=" \n\t")  # spaces free
    assert refused(h, "delete_user", name="alice")[1] == (
        "Cannot delete entity, must delete policies first.")
    run(h, "delete_inline", kind="user", name="alice", policy="a")
    assert refused(h, "delete_inline", kind="user", name="alice", policy="a")[0] == (
        "NoSuchEntity")


def test_bootstrap_first_wins_and_a_new_root_key_replaces_the_old(h):
    first = run(h, "bootstrap", account="123456789012", key_id="AKIAFIRST", sealed="s1")
    again = run(h, "bootstrap", account="999999999999", key_id="AKIASECOND", sealed="s2")
    assert again == first and first["root_key"] == "AKIAFIRST"
    replaced = run(h, "bootstrap", account="999999999999", key_id="AKIATHIRD", sealed="s3",
                   replace=True)
    assert replaced["id"] == "123456789012" and replaced["root_key"] == "AKIATHIRD"
    assert h.read(lambda k: read(k, "key", "AKIAFIRST")) is None
    assert h.read(lambda k: read(k, "key", "AKIATHIRD"))["user"] == ""
    assert refused(h, "delete_key", user="", key_id="AKIATHIRD")[0] == "InvalidInput"


def test_every_change_moves_the_revision_and_a_snapshot_copies_all(h, tmp_path):
    run(h, "create_user", record=user("alice"))
    before = h.read(lambda k: k.get(b"n"))
    run(h, "create_group", record={**user("devs"), "arn": "arn:aws:iam::1:group/devs"})
    assert int(h.read(lambda k: k.get(b"n"))) > int(before)
    other = MachineHarness(IdentityMachine(), tmp_path / "copy")
    h.copy_to(other)
    assert other.pairs() == h.pairs()
    other.close()
