"""ElastiCache users on a one-node identity store, as a node runs them: the user API with
ElastiCache's shapes and errors, AUTH (cache users and IAM access keys) and the per-command
check the RESP endpoint makes, with Redis's NOPERM texts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers_consensus import LocalCluster

from engine.errors import EngineError
from engine.iam import bootstrap
from engine.iam.bootstrap import ENV_KEY, ENV_SECRET
from engine.iam.principal import ROOT, Principal
from engine.iam.redis_acl import password_hash
from engine.iam.sealing import Sealer
from engine.iam.store.machine import IdentityMachine
from engine.iam.system import IdentitySystem

ROOT_ID, ROOT_SECRET = "AKIAROOTROOTROOT0001", "root-secret-root-secret-root-secret-0001"
PW1, PW2 = "first-password-0001", "second-password-002"


class Node:
    def __init__(self, root: Path) -> None:
        self.c = LocalCluster(root, lambda node, broken: IdentityMachine(), ["a"], name="meta")
        self.root = root

    async def start(self) -> IdentitySystem:
        await self.c.start("a")
        await self.c.leader()
        system = IdentitySystem(self.c.group("a"), Sealer.from_secret("test-cluster-secret"),
                                self.c.clock, "us-east-1", self.root)
        account = await bootstrap.bootstrap_root(
            system.store, system.sealer, self.root, "2026-12-07T00:00:00Z",
            env={ENV_KEY: ROOT_ID, ENV_SECRET: ROOT_SECRET}, announce=lambda _: None)
        system.account_id = account["id"]
        self.root_principal = Principal(ROOT, f"arn:aws:iam::{account['id']}:root",
                                        account["id"], unique_id=account["id"])
        return system


def scenario(tmp_path: Path, body) -> None:
    async def main() -> None:
        node = Node(tmp_path)
        system = await node.start()
        try:
            await body(system, node.root_principal)
        finally:
            await node.c.close()
    asyncio.run(asyncio.wait_for(main(), 120))


async def refused(coro) -> tuple[str, str]:
    with pytest.raises(EngineError) as err:
        await coro
    return err.value.code, err.value.message


ALICE = {"UserId": "Alice", "UserName": "alice", "Engine": "Redis",
         "AccessString": "on ~app:* +@read", "Passwords": [PW1, PW2]}


def test_create_describe_modify_delete_with_elasticaches_shapes(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        ec, account = system.elasticache, system.account()
        made = await ec.handle("CreateUser", ALICE, root)
        assert made == {
            "UserId": "alice", "UserName": "alice", "Status": "active", "Engine": "redis",
            "MinimumEngineVersion": "6.0", "AccessString": "on ~app:* +@read",
            "UserGroupIds": [], "Authentication": {"Type": "password", "PasswordCount": 2},
            "ARN": f"arn:aws:elasticache:us-east-1:{account}:user:alice"}
        listed = await ec.handle("DescribeUsers", {}, root)
        assert [u["UserId"] for u in listed["Users"]] == ["alice", "default"]
        assert listed["Users"][1]["AccessString"] == "off ~* +@all"
        assert listed["Users"][1]["Authentication"] == {"Type": "no-password",
                                                        "PasswordCount": 0}
        changed = await ec.handle("ModifyUser", {"UserId": "alice",
                                                 "AppendAccessString": "+set",
                                                 "NoPasswordRequired": True}, root)
        assert changed["AccessString"] == "on ~app:* +@read +set"
        assert changed["Authentication"] == {"Type": "no-password", "PasswordCount": 0}
        gone = await ec.handle("DeleteUser", {"UserId": "ALICE"}, root)
        assert gone["Status"] == "deleting" and gone["UserId"] == "alice"
        assert await refused(ec.handle("DescribeUsers", {"UserId": "alice"}, root)) == (
            "UserNotFound", "User alice not found.")
        assert await refused(ec.handle("DeleteUser", {"UserId": "alice"}, root)) == (
            "UserNotFound", "User alice not found.")

    scenario(tmp_path, body)


def test_invalid_requests_get_elasticaches_codes(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        def create(**changes):
            return system.elasticache.handle("CreateUser", {**ALICE, **changes}, root)

        assert await refused(create(UserId=None)) == (
            "MissingParameter", "The request must contain the parameter UserId.")
        assert (await refused(create(UserId="1bad")))[0] == "InvalidParameterValue"
        assert await refused(create(Engine="memcached")) == (
            "InvalidParameterValue", "Invalid engine memcached: the options are valkey or "
            "redis.")
        assert await refused(create(AccessString="on ~app:* +nosuch")) == (
            "InvalidParameterValue", "Access string is invalid: Unknown command or category "
            "name in ACL (in rule '+nosuch')")
        assert await refused(create(AccessString="on bogus")) == (
            "InvalidParameterValue", "Access string is invalid: Syntax error (in rule "
            "'bogus')")
        code, message = await refused(create(AccessString="on >secret-in-the-string"))
        assert code == "InvalidParameterValue" and "secret-in-the-string" not in message
        assert (await refused(create(AccessString="on reset")))[0] == "InvalidParameterValue"
        assert await refused(create(Passwords=["short"])) == (
            "InvalidParameterValue", "Passwords length must be between 16-128 characters.")
        assert await refused(create(Passwords=["has a space in it!!"])) == (
            "InvalidParameterValue", "Passwords can contain only printable ASCII characters "
            "other than space, '\"', '/' and '@'.")
        assert (await refused(create(Passwords=[PW1, PW2, PW1])))[0] == (
            "InvalidParameterValue")
        assert await refused(create(Passwords=None)) == (
            "InvalidParameterValue", "No password was provided. If you want to create/update "
            "the user without password, please use the NoPasswordRequired flag.")
        assert (await refused(create(NoPasswordRequired=True)))[0] == (
            "InvalidParameterCombination")
        assert (await refused(create(Passwords=None, AuthenticationMode={
            "Type": "password", "Passwords": [PW1]}, NoPasswordRequired=False)))[0] == (
            "InvalidParameterCombination")
        assert await refused(create(Passwords=None, UserName="app",
                                   AuthenticationMode={"Type": "iam"})) == (
            "InvalidParameterCombination",
            "User Id and User name must be same for authentication type: iam")
        await create()
        assert await refused(create()) == ("UserAlreadyExists", "User alice already exists.")
        assert await refused(create(UserId="bob")) == (
            "DuplicateUserName", "User name alice already exists.")
        assert await refused(system.elasticache.handle(
            "ModifyUser", {"UserId": "alice"}, root)) == (
            "InvalidParameterCombination", "No modifications were requested.")
        assert (await refused(system.elasticache.handle("ModifyUser", {
            "UserId": "alice", "AccessString": "on", "AppendAccessString": "+get"},
            root)))[0] == "InvalidParameterCombination"
        assert (await refused(system.elasticache.handle(
            "DeleteUser", {"UserId": "default"}, root)))[0] == "InvalidParameterValue"
        assert (await refused(system.elasticache.handle("Nope", {}, root)))[0] == (
            "InvalidAction")

    scenario(tmp_path, body)


def test_describe_users_pages_with_marker_and_max_records(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        ec = system.elasticache
        for i in range(44):
            await ec.handle("CreateUser", {**ALICE, "UserId": f"u{i:02d}",
                                           "UserName": f"user{i:02d}",
                                           "Engine": "valkey" if i % 2 else "redis"}, root)
        seen, marker, pages = [], None, 0
        while True:
            page = await ec.handle("DescribeUsers", {"MaxRecords": 20,
                                                     **({"Marker": marker} if marker else {})},
                                   root)
            seen += [u["UserId"] for u in page["Users"]]
            pages += 1
            marker = page.get("Marker")
            if marker is None:
                break
        assert pages == 3 and seen == sorted(seen) and len(seen) == 45
        valkey = await ec.handle("DescribeUsers", {"Engine": "valkey"}, root)
        assert len(valkey["Users"]) == 22
        filtered = await ec.handle("DescribeUsers", {"Filters": [
            {"Name": "user-id", "Values": ["u01", "u02"]}]}, root)
        assert [u["UserId"] for u in filtered["Users"]] == ["u01", "u02"]
        assert (await refused(ec.handle("DescribeUsers", {"MaxRecords": 5}, root)))[0] == (
            "InvalidParameterValue")

    scenario(tmp_path, body)


def test_auth_and_the_per_command_check_of_a_cache_user(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        users, ec = system.cache_users, system.elasticache
        await ec.handle("CreateUser", ALICE, root)
        # the store keeps SHA-256 hashes, never passwords
        pairs = system.store.group.read_local("iam", lambda k: list(k.range(b"")))
        assert all(PW1.encode() not in v and PW2.encode() not in v for _, v in pairs)
        assert any(password_hash(PW1).encode() in v for _, v in pairs)
        assert users.authenticate("alice", "wrong-password-000") is None
        assert users.authenticate("nobody", PW1) is None
        alice = users.authenticate("alice", PW2)
        assert alice is not None and alice.user_id == "alice"
        assert users.permits(alice, "GET", [b"app:1"]) is None
        assert users.permits(alice, "GET", [b"other"]).reply == (  # type: ignore[union-attr]
            "NOPERM No permissions to access a key")
        assert users.permits(alice, "SET", [b"app:1", b"v"]).reply == (  # type: ignore[union-attr]
            "NOPERM User alice has no permissions to run the 'set' command")
        # a change reaches connections already authenticated, at their next command
        await ec.handle("ModifyUser", {"UserId": "alice", "AppendAccessString": "+set"}, root)
        assert users.permits(alice, "SET", [b"app:1", b"v"]) is None
        await ec.handle("ModifyUser", {"UserId": "alice", "AccessString": "off ~app:* +@all"},
                        root)
        assert users.authenticate("alice", PW2) is None  # off: no new logins
        await ec.handle("DeleteUser", {"UserId": "alice"}, root)
        assert users.permits(alice, "GET", [b"app:1"]) is not None
        # no password needed: any password works, as Redis's nopass
        await ec.handle("CreateUser", {**ALICE, "UserId": "open", "UserName": "open",
                                       "Passwords": None, "NoPasswordRequired": True}, root)
        assert users.authenticate("open", "anything") is not None

    scenario(tmp_path, body)


def test_the_default_user_lets_nobody_in_until_an_admin_says_so(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        users, ec = system.cache_users, system.elasticache
        assert users.authenticate("default", "") is None
        assert users.authenticate("default", PW1) is None
        await ec.handle("ModifyUser", {"UserId": "default", "AccessString": "on ~* +@all",
                                       "Passwords": [PW1]}, root)
        assert users.authenticate("default", "nope") is None
        default = users.authenticate("default", PW1)
        assert default is not None and users.permits(default, "FLUSHALL", []) is None
        # another user named "default" takes its place (ElastiCache's way to replace it)
        await ec.handle("CreateUser", {"UserId": "my-default", "UserName": "default",
                                       "Engine": "redis", "AccessString": "on ~* -@all +get",
                                       "Passwords": [PW2]}, root)
        assert users.authenticate("default", PW1) is None
        replaced = users.authenticate("default", PW2)
        assert replaced is not None and replaced.user_id == "my-default"
        assert users.permits(replaced, "FLUSHALL", []).reply == (  # type: ignore[union-attr]
            "NOPERM User default has no permissions to run the 'flushall' command")

    scenario(tmp_path, body)


def test_iam_access_keys_authenticate_and_are_authorized_by_policy(tmp_path):
    async def body(system: IdentitySystem, root: Principal) -> None:
        iam, users, account = system.iam, system.cache_users, system.account()
        await iam.handle("CreateUser", {"UserName": "app"}, root)
        key = (await iam.handle("CreateAccessKey", {"UserName": "app"}, root))["AccessKey"]
        key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
        assert users.authenticate(key_id, "not-the-secret") is None
        app = users.authenticate(key_id, secret)
        assert app is not None and app.principal is not None and app.name == key_id
        assert users.permits(app, "PING", []) is None  # connection commands need nothing
        assert users.permits(app, "GET", [b"app:1"]).reply == (  # type: ignore[union-attr]
            "NOPERM No permissions to access a key")
        keys = f"arn:aws:elasticache:us-east-1:{account}:key/app:*"
        await iam.handle("PutUserPolicy", {"UserName": "app", "PolicyName": "cache",
                                           "PolicyDocument": json.dumps({
                                               "Version": "2012-10-17", "Statement": [{
                                                   "Effect": "Allow",
                                                   "Action": "elasticache:ReadKeys",
                                                   "Resource": keys}]})}, root)
        assert users.permits(app, "GET", [b"app:1"]) is None
        assert users.permits(app, "MGET", [b"app:1", b"other"]) is not None
        assert users.permits(app, "SET", [b"app:1", b"v"]).reply == (  # type: ignore[union-attr]
            "NOPERM No permissions to access a key")
        assert users.permits(app, "FLUSHALL", []).reply == (  # type: ignore[union-attr]
            f"NOPERM User {key_id} has no permissions to run the 'flushall' command")
        assert users.permits(app, "CONFIG", [b"SET", b"a", b"b"]) is not None
        assert users.authenticate(ROOT_ID, ROOT_SECRET) is not None
        root_conn = users.authenticate(ROOT_ID, ROOT_SECRET)
        assert users.permits(root_conn, "FLUSHALL", []) is None  # type: ignore[arg-type]
        # a deactivated key stops authenticating at once
        await iam.handle("UpdateAccessKey", {"UserName": "app", "AccessKeyId": key_id,
                                             "Status": "Inactive"}, root)
        assert users.authenticate(key_id, secret) is None

    scenario(tmp_path, body)


def test_the_user_api_is_authorized_on_the_users_arn():
    from engine.api.access_table import Target, accesses
    from engine.v1 import iam_pb2

    target = Target(account="123456789012", region="us-east-2")
    call = iam_pb2.AwsCall(action="ModifyUser", params_json='{"UserId": "Bob"}')
    [access] = accesses("/engine.v1.ElastiCache/Call", call, target)
    assert (access.action, access.resource) == (
        "elasticache:ModifyUser", "arn:aws:elasticache:us-east-2:123456789012:user:bob")
    every = iam_pb2.AwsCall(action="DescribeUsers", params_json="{}")
    [access] = accesses("/engine.v1.ElastiCache/Call", every, target)
    assert access.resource == "arn:aws:elasticache:us-east-2:123456789012:user:*"
