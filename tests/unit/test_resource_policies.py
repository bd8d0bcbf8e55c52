"""The resource side of authorization as a node runs it: bucket policies, ACLs, Block
Public Access, Object Ownership and queue policies weighed with the caller's identity
policies (real identity store on a one-node consensus group, real drives, real catalog).

AWS's same-account rule: the identity side OR the resource side may allow; an explicit
Deny anywhere wins; anonymous callers have only what the resource grants everyone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from helpers_bodies import chunks
from helpers_consensus import LocalCluster

from engine.api import resource_policies
from engine.api.access_rules_s3 import on_bucket, on_object
from engine.api.access_rules_sqs import on_queue
from engine.api.access_table import Target
from engine.api.resource_policies import ResourcePolicies
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.iam import bootstrap
from engine.iam.acl import AclRequest
from engine.iam.bootstrap import ENV_KEY, ENV_SECRET
from engine.iam.principal import USER, Principal, anonymous
from engine.iam.public_access import NO_BLOCK, PublicAccessBlock
from engine.iam.s3_account import S3AccountSettings
from engine.iam.sealing import Sealer
from engine.iam.store.machine import IdentityMachine
from engine.iam.system import IdentitySystem
from engine.objects.service import ObjectService, WriteOptions
from engine.queues import attributes
from engine.queues.catalog import CatalogMachine, QueueCatalog
from engine.storage.drive import LocalDrive
from engine.v1.queue_records_pb2 import QueueRecord

ROOT_ID, ROOT_SECRET = "AKIAROOTROOTROOT0001", "root-secret-root-secret-root-secret-0001"
CONFIG = StorageConfig(stripe_size=64 * 1024, inline_threshold=1024,
                       max_object_size=4 << 20, lmdb_map_size=1 << 28)
BUCKET = "photos"
RESTRICT_ONLY = PublicAccessBlock(False, False, False, True)
IGNORE_ONLY = PublicAccessBlock(False, True, False, False)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


class World:
    """One node's identity store, object service and queue catalog, and the lookup."""

    async def start(self, root: Path) -> World:
        self.cluster = LocalCluster(root, lambda node, broken: [CatalogMachine(),
                                                                IdentityMachine()],
                                    ["a"], name="meta")
        await self.cluster.start("a")
        await self.cluster.leader()
        group = self.cluster.group("a")
        self.identity = IdentitySystem(group, Sealer.from_secret("test-cluster-secret"),
                                       self.cluster.clock, "us-east-1", root)
        account = await bootstrap.bootstrap_root(
            self.identity.store, self.identity.sealer, root, "2026-12-07T00:00:00Z",
            env={ENV_KEY: ROOT_ID, ENV_SECRET: ROOT_SECRET}, announce=lambda text: None)
        self.account = account["id"]
        self.identity.account_id = self.account
        self.root = self.identity.authn.root()
        self.drive = LocalDrive(root / "drive", CONFIG.lmdb_map_size)
        self.objects = ObjectService(StaticPlacement.single(self.drive), CONFIG,
                                     self.cluster.clock)
        self.objects.account = S3AccountSettings(self.identity.store)
        self.catalog = QueueCatalog(group, self.cluster.clock)
        self.lookup = ResourcePolicies(self.identity.authz, self.objects, self.catalog)
        await self.objects.create_bucket(BUCKET)
        await self.objects.put_object(BUCKET, "cat.jpg", chunks(b"meow"), WriteOptions())
        return self

    async def stop(self) -> None:
        self.drive.close()
        await self.cluster.close()

    async def user(self, name: str, policy: dict[str, Any] | None = None) -> Principal:
        await self.identity.iam.handle("CreateUser", {"UserName": name}, self.root)
        if policy is not None:
            await self.identity.iam.handle("PutUserPolicy", {
                "UserName": name, "PolicyName": "p", "PolicyDocument": json.dumps(policy)},
                self.root)
        return Principal(USER, self.arn(name), self.account, name=name)

    def arn(self, user: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{user}"

    async def allowed(self, who: Principal, action: str, key: str | None = "cat.jpg",
                      **keys: Any) -> bool:
        access = (on_bucket(action, BUCKET, keys) if key is None
                  else on_object(action, BUCKET, key, keys=keys))
        return (await self.lookup.decide(who, access)).allowed

    async def open_up(self, bucket_block: PublicAccessBlock = NO_BLOCK,
                      ownership: str | None = None) -> None:
        """Lift the account's Block Public Access and set the bucket's; optionally
        enable ACLs."""
        await self.objects.account.set_public_access_block(None)
        await self.objects.put_public_access_block(BUCKET, bucket_block)
        if ownership is not None:
            await self.objects.put_bucket_ownership_controls(BUCKET, [ownership])


def scenario(body: Callable[[World], Awaitable[None]]) -> Callable[[Path], None]:
    def test(tmp_path: Path) -> None:
        async def main() -> None:
            world = await World().start(tmp_path)
            try:
                await body(world)
            finally:
                await world.stop()
        run(main())
    test.__name__ = body.__name__
    test.__doc__ = body.__doc__
    return test


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": resource, **extra}


async def public_object(w: World, key: str, canned: str = "public-read") -> None:
    await w.objects.put_object(BUCKET, key, chunks(b"hello"),
                               WriteOptions(acl=AclRequest(canned=canned)))


# -- bucket policies ---------------------------------------------------------------------


@scenario
async def test_a_bucket_policy_alone_lets_a_user_without_policies_read(w: World) -> None:
    bob = await w.user("bob")
    assert not await w.allowed(bob, "s3:GetObject")
    await w.objects.put_bucket_policy(BUCKET, policy(
        allow({"AWS": w.arn("bob")}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")))
    decision = await w.lookup.decide(bob, on_object("s3:GetObject", BUCKET, "cat.jpg"))
    assert decision.allowed and decision.statement is not None
    assert decision.statement.source == "resource"
    assert not await w.allowed(bob, "s3:PutObject")  # granted reading, not writing
    assert not await w.allowed(await w.user("carol"), "s3:GetObject")  # names bob only


@scenario
async def test_an_explicit_deny_in_the_bucket_policy_beats_a_users_own_allow(w: World) -> None:
    alice = await w.user("alice", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    assert await w.allowed(alice, "s3:DeleteObject")
    await w.objects.put_bucket_policy(BUCKET, policy({
        "Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*"}))
    decision = await w.lookup.decide(alice, on_object("s3:DeleteObject", BUCKET, "cat.jpg"))
    assert decision.kind == "explicit-deny"
    assert str(decision.statement) == f"resource policy arn:aws:s3:::{BUCKET}, Sid NoDeletes"
    assert await w.allowed(alice, "s3:GetObject")
    # the root is denied too, but keeps the policy actions (it can always undo a policy)
    assert not await w.allowed(w.root, "s3:DeleteObject")
    assert await w.allowed(w.root, "s3:DeleteBucketPolicy", None)


@scenario
async def test_a_public_policy_is_ignored_for_outsiders_under_restrict_public_buckets(
        w: World) -> None:
    await w.open_up(RESTRICT_ONLY)
    await w.objects.put_bucket_policy(BUCKET, policy(
        allow("*", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")))
    assert await w.objects.get_bucket_policy_status(BUCKET) is True
    nobody = anonymous("")
    assert not await w.allowed(nobody, "s3:GetObject")
    # the bucket owner's own account still gets the policy's grants
    assert await w.allowed(await w.user("bob"), "s3:GetObject")
    await w.objects.put_public_access_block(BUCKET, NO_BLOCK)
    assert await w.allowed(nobody, "s3:GetObject")
    # the account's flag alone restricts as well (the two levels are OR-ed)
    await w.objects.account.set_public_access_block(RESTRICT_ONLY)
    assert not await w.allowed(nobody, "s3:GetObject")


@scenario
async def test_a_restricted_public_policy_keeps_its_denies(w: World) -> None:
    """Under RestrictPublicBuckets a public policy's Allows are void for outsiders, but
    its Denies still bind them (here: against an object ACL's public grant)."""
    await w.open_up(RESTRICT_ONLY, ownership="ObjectWriter")
    await public_object(w, "open.txt")
    await public_object(w, "secret/plan.txt")
    await w.objects.put_bucket_policy(BUCKET, policy(
        allow("*", "s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/secret/*"}))
    nobody = anonymous("")
    assert not await w.allowed(nobody, "s3:ListBucket", None)  # the Allow is void
    assert await w.allowed(nobody, "s3:GetObject", "open.txt")  # the ACL still grants
    decision = await w.lookup.decide(nobody, on_object("s3:GetObject", BUCKET,
                                                       "secret/plan.txt"))
    assert decision.kind == "explicit-deny"


# -- ACLs ----------------------------------------------------------------------------------


@scenario
async def test_an_all_users_read_grant_is_ignored_under_ignore_public_acls(w: World) -> None:
    await w.open_up(ownership="ObjectWriter")
    await public_object(w, "open.txt")
    nobody = anonymous("")
    assert await w.allowed(nobody, "s3:GetObject", "open.txt")
    assert not await w.allowed(nobody, "s3:GetObject")  # cat.jpg is private
    assert not await w.allowed(nobody, "s3:PutObjectAcl", "open.txt")  # READ only
    await w.objects.put_public_access_block(BUCKET, IGNORE_ONLY)
    assert not await w.allowed(nobody, "s3:GetObject", "open.txt")
    # the stored ACL is untouched: lifting the flag restores the grant
    await w.objects.put_public_access_block(BUCKET, NO_BLOCK)
    assert await w.allowed(nobody, "s3:GetObject", "open.txt")


@scenario
async def test_bucket_owner_enforced_ignores_every_acl(w: World) -> None:
    await w.open_up(ownership="ObjectWriter")
    await public_object(w, "open.txt")
    await w.objects.put_bucket_ownership_controls(BUCKET, ["BucketOwnerEnforced"])
    assert not await w.allowed(anonymous(""), "s3:GetObject", "open.txt")
    await w.objects.put_bucket_ownership_controls(BUCKET, ["BucketOwnerPreferred"])
    assert await w.allowed(anonymous(""), "s3:GetObject", "open.txt")


@scenario
async def test_an_authenticated_users_grant_reaches_users_without_policies(w: World) -> None:
    await w.open_up(ownership="ObjectWriter")
    await public_object(w, "members.txt", "authenticated-read")
    assert await w.allowed(await w.user("bob"), "s3:GetObject", "members.txt")
    assert not await w.allowed(anonymous(""), "s3:GetObject", "members.txt")


@scenario
async def test_a_bucket_write_grant_creates_keys_but_replaces_none(w: World) -> None:
    await w.open_up(ownership="ObjectWriter")
    await w.objects.put_bucket_acl(BUCKET, AclRequest(canned="public-read-write"))
    nobody = anonymous("")
    assert await w.allowed(nobody, "s3:ListBucket", None)
    assert await w.allowed(nobody, "s3:PutObject", "new.txt")
    assert not await w.allowed(nobody, "s3:PutObject", "cat.jpg")  # the owner's object
    assert not await w.allowed(nobody, "s3:GetObject")  # bucket grants are not object grants


@scenario
async def test_object_acls_are_not_read_while_acls_are_disabled(w: World) -> None:
    """The default configuration (BucketOwnerEnforced) never reads an object's record to
    authorize it: a denied GET costs no metadata read."""
    await w.open_up()
    reads: list[str] = []
    original = w.objects.governing_acl

    async def counted(bucket: str, key: str, version_id: str = "") -> Any:
        reads.append(key)
        return await original(bucket, key, version_id)

    w.objects.governing_acl = counted  # type: ignore[method-assign]
    assert not await w.allowed(anonymous(""), "s3:GetObject")
    assert not await w.allowed(await w.user("bob"), "s3:GetObject")
    assert reads == []
    await w.objects.put_bucket_ownership_controls(BUCKET, ["ObjectWriter"])
    assert not await w.allowed(anonymous(""), "s3:GetObject")
    assert reads == ["cat.jpg"]


# -- policies are compiled once ------------------------------------------------------------


@scenario
async def test_a_bucket_policy_is_compiled_once_until_it_changes(w: World) -> None:
    compiled: list[str] = []
    original = resource_policies.parse_policy

    def counting(text: str, kind: Any, **kw: Any) -> Any:
        compiled.append(text)
        return original(text, kind, **kw)

    bob = await w.user("bob")
    first = policy(allow({"AWS": w.arn("bob")}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*"))
    await w.objects.put_bucket_policy(BUCKET, first)
    resource_policies.parse_policy = counting  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert await w.allowed(bob, "s3:GetObject")
        assert compiled == [first]
        second = policy(allow({"AWS": w.arn("bob")}, "s3:ListBucket",
                              f"arn:aws:s3:::{BUCKET}"))
        await w.objects.put_bucket_policy(BUCKET, second)
        assert not await w.allowed(bob, "s3:GetObject")
        assert await w.allowed(bob, "s3:ListBucket", None)
        assert compiled == [first, second]
    finally:
        resource_policies.parse_policy = original  # type: ignore[assignment]


# -- queue policies ------------------------------------------------------------------------


@scenario
async def test_a_queue_policy_grants_send_message_to_a_user_without_policies(
        w: World) -> None:
    target = Target(w.account, "us-east-1")
    queue_arn = f"arn:aws:sqs:us-east-1:{w.account}:jobs"
    bob = await w.user("bob")
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": w.arn("bob")},
         "Action": "sqs:SendMessage", "Resource": queue_arn}]})
    record = QueueRecord(name="jobs", attributes=attributes.create_attributes(
        "jobs", {"Policy": text}), partitions=1)
    await w.catalog.create(record)

    async def may(action: str) -> bool:
        return (await w.lookup.decide(bob, on_queue(action, "jobs", target))).allowed

    assert await may("sqs:SendMessage")
    assert not await may("sqs:ReceiveMessage")
    assert not await may("sqs:DeleteQueue")
    assert not (await w.lookup.decide(
        await w.user("carol"), on_queue("sqs:SendMessage", "jobs", target))).allowed


def test_queue_policies_are_validated_as_sqs_does() -> None:
    def refused(text: str) -> EngineError:
        with pytest.raises(EngineError) as info:
            attributes.create_attributes("jobs", {"Policy": text})
        return info.value

    unknown = refused(policy(allow("*", "sqs:SendMesage", "*")))
    assert (unknown.code, unknown.message) == (
        "InvalidAttributeValue", "Invalid value for the parameter Policy.")
    assert unknown.details["AttributeName"] == "Policy"
    assert unknown.details["reason"] == "Invalid Action: sqs:SendMesage"
    no_principal = refused(json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}))
    assert no_principal.details["reason"] == "Missing required field Principal"
    assert refused("not json").code == "InvalidAttributeValue"
    big = policy(*[allow("*", "sqs:SendMessage", "*", Sid=f"S{i}" + "x" * 400)
                   for i in range(20)])
    assert len(big.encode()) > 8192
    assert refused(big).message == "Invalid value for the parameter Policy."
