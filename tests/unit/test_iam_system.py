"""Identity and access on a one-node consensus group: bootstrap, the IAM API, signed
calls, authorization and STS sessions, as a node runs them (real LMDB, real SigV4)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers_consensus import LocalCluster

from engine.errors import EngineError
from engine.iam import bootstrap
from engine.iam.bootstrap import CREDENTIALS_FILE, ENV_KEY, ENV_SECRET
from engine.iam.principal import ROLE_SESSION, ROOT, USER, Principal
from engine.iam.sealing import Sealer
from engine.iam.signature import verify_request
from engine.iam.store.machine import IdentityMachine
from engine.iam.system import IdentitySystem
from engine.sigv4 import Credentials, presign_url, sign_grpc

ROOT_ID, ROOT_SECRET = "AKIAROOTROOTROOT0001", "root-secret-root-secret-root-secret-0001"
ENV = {ENV_KEY: ROOT_ID, ENV_SECRET: ROOT_SECRET}
METHOD = "/engine.v1.ObjectStore/GetObject"
ALLOW_GET = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}]})


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Node:
    def __init__(self, root: Path) -> None:
        self.c = LocalCluster(root, lambda node, broken: IdentityMachine(), ["a"], name="meta")
        self.root = root
        self.printed: list[str] = []

    async def start(self, env: dict[str, str] | None = None) -> IdentitySystem:
        await self.c.start("a")
        await self.c.leader()
        system = IdentitySystem(self.c.group("a"), Sealer.from_secret("test-cluster-secret"),
                                self.c.clock, "us-east-1", self.root)
        self.wall = self.c.clock.now_ns() / 1e9  # the "real" time signatures are checked on
        system.authn.wall = lambda: self.wall
        account = await bootstrap.bootstrap_root(
            system.store, system.sealer, self.root, "2026-12-07T00:00:00Z",
            env=ENV if env is None else env, announce=self.printed.append)
        system.account_id = account["id"]
        return system

    async def stop(self) -> None:
        await self.c.close()


def signed(system: IdentitySystem, key: str, secret: str, message: bytes = b"msg",
           token: str | None = None) -> list[tuple[str, str]]:
    now = system.clock.now_ns() / 1e9
    return sign_grpc(METHOD, "127.0.0.1:50051", message, Credentials(key, secret, token),
                     "us-east-1", "s3", now)


def principal_of(system: IdentitySystem, key: str, secret: str,
                 token: str | None = None) -> Principal:
    found = system.authn.grpc(METHOD, signed(system, key, secret, token=token), b"msg", "s3")
    assert found is not None
    return found


def code_of(fn, *args, **kw) -> tuple[str, str]:
    with pytest.raises(EngineError) as err:
        fn(*args, **kw)
    return err.value.code, err.value.message


async def acode_of(coro) -> tuple[str, str]:
    with pytest.raises(EngineError) as err:
        await coro
    return err.value.code, err.value.message


def test_root_from_the_environment_signs_calls_and_lands_in_a_private_file(tmp_path):
    async def main():
        node = Node(tmp_path)
        system = await node.start()
        root = principal_of(system, ROOT_ID, ROOT_SECRET)
        assert root.kind == ROOT and root.arn == f"arn:aws:iam::{system.account()}:root"
        path = tmp_path / CREDENTIALS_FILE
        assert path.read_text() == (f"[default]\naws_access_key_id = {ROOT_ID}\n"
                                    f"aws_secret_access_key = {ROOT_SECRET}\n")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert node.printed == []  # given, not generated: nothing to show
        assert code_of(principal_of, system, ROOT_ID, "wrong" * 8)[0] == (
            "SignatureDoesNotMatch")
        await node.stop()

    run(main())


def test_a_generated_root_is_shown_once_and_kept_across_restarts(tmp_path):
    async def main():
        node = Node(tmp_path)
        system = await node.start(env={})
        assert len(node.printed) == 1 and "aws_secret_access_key = " in node.printed[0]
        text = (tmp_path / CREDENTIALS_FILE).read_text()
        key = text.split("aws_access_key_id = ")[1].split("\n")[0]
        secret = text.split("aws_secret_access_key = ")[1].strip()
        assert key.startswith("AKIA") and len(key) == 20 and len(secret) == 40
        assert secret in node.printed[0]
        account = system.account()
        await node.stop()
        node.printed.clear()
        again = await node.start(env={})
        assert node.printed == [] and again.account() == account
        assert principal_of(again, key, secret).kind == ROOT
        # rotating root: start with other credentials in the environment
        await node.stop()
        rotated = await node.start(env={ENV_KEY: "AKIANEWROOTKEY000001",
                                         ENV_SECRET: "new-root-secret-0000"})
        assert code_of(principal_of, rotated, key, secret)[0] == "InvalidAccessKeyId"
        assert principal_of(rotated, "AKIANEWROOTKEY000001", "new-root-secret-0000").is_root
        await node.stop()

    run(main())


def test_users_keys_policies_and_the_decisions_they_lead_to(tmp_path):
    async def main():
        node = Node(tmp_path)
        system = await node.start()
        root = principal_of(system, ROOT_ID, ROOT_SECRET)
        iam = system.iam
        made = await iam.handle("CreateUser", {"UserName": "alice"}, root)
        assert made["User"]["Arn"] == f"arn:aws:iam::{system.account()}:user/alice"
        assert (await acode_of(iam.handle("CreateUser", {"UserName": "ALICE"}, root)))[0] == (
            "EntityAlreadyExists")
        assert (await acode_of(iam.handle("CreateUser", {"UserName": "a b"}, root))) == (
            "ValidationError", "1 validation error detected: Value 'a b' at 'userName' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\w+=,.@-]+")
        key = (await iam.handle("CreateAccessKey", {"UserName": "alice"}, root))["AccessKey"]
        alice = principal_of(system, key["AccessKeyId"], key["SecretAccessKey"])
        assert (alice.kind, alice.name) == (USER, "alice")

        photo = "arn:aws:s3:::photos/cat.jpg"
        code, message = code_of(system.authz.check, alice, "s3:GetObject", photo)
        assert code == "AccessDenied" and message == (
            f"User: {alice.arn} is not authorized to perform: s3:GetObject on resource: "
            f"{photo} because no identity-based policy allows the s3:GetObject action")
        policy = (await iam.handle("CreatePolicy", {"PolicyName": "read-photos",
                                                    "PolicyDocument": ALLOW_GET}, root))
        await iam.handle("CreateGroup", {"GroupName": "viewers"}, root)
        await iam.handle("AttachGroupPolicy", {"GroupName": "viewers",
                                               "PolicyArn": policy["Policy"]["Arn"]}, root)
        await iam.handle("AddUserToGroup", {"GroupName": "viewers", "UserName": "alice"}, root)
        assert system.authz.check(alice, "s3:GetObject", photo).allowed
        assert not system.authz.decide(alice, "s3:PutObject", photo).allowed
        deny = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
        await iam.handle("PutUserPolicy", {"UserName": "alice", "PolicyName": "no",
                                           "PolicyDocument": deny}, root)
        decision = system.authz.decide(alice, "s3:GetObject", photo)
        assert decision.kind == "explicit-deny"
        assert (await acode_of(iam.handle("PutUserPolicy", {
            "UserName": "alice", "PolicyName": "bad", "PolicyDocument": "{"}, root)))[0] == (
            "MalformedPolicyDocument")

        # deactivation takes effect at once on this node
        await iam.handle("UpdateAccessKey", {"UserName": "alice", "Status": "Inactive",
                                             "AccessKeyId": key["AccessKeyId"]}, root)
        assert code_of(principal_of, system, key["AccessKeyId"],
                       key["SecretAccessKey"])[0] == "InvalidAccessKeyId"
        # the store holds the secret sealed, never in plaintext
        pairs = node.c.group("a").read_local("iam", lambda k: list(k.range(b"")))
        assert all(key["SecretAccessKey"].encode() not in v for _, v in pairs)
        await node.stop()

    run(main())


def test_session_tokens_expire_on_the_engine_clock_and_cannot_be_forged(tmp_path):
    async def main():
        node = Node(tmp_path)
        system = await node.start()
        root = principal_of(system, ROOT_ID, ROOT_SECRET)
        await system.iam.handle("CreateUser", {"UserName": "bob"}, root)
        key = (await system.iam.handle("CreateAccessKey", {"UserName": "bob"},
                                       root))["AccessKey"]
        bob = principal_of(system, key["AccessKeyId"], key["SecretAccessKey"])
        creds = (await system.sts.handle("GetSessionToken", {"DurationSeconds": 900},
                                         bob))["Credentials"]
        assert creds["AccessKeyId"].startswith("ASIA")
        session = principal_of(system, creds["AccessKeyId"], creds["SecretAccessKey"],
                               creds["SessionToken"])
        assert session.kind == USER and session.name == "bob"
        assert (await acode_of(system.sts.handle("GetSessionToken", {}, session))) == (
            "AccessDenied", "Cannot call GetSessionToken with session credentials")
        forged = creds["SessionToken"][:-4] + ("AAAA" if creds["SessionToken"][-4:] != "AAAA"
                                               else "BBBB")
        assert code_of(principal_of, system, creds["AccessKeyId"], creds["SecretAccessKey"],
                       forged)[0] == "InvalidClientTokenId"
        assert code_of(principal_of, system, "ASIAOTHERKEY00000000", creds["SecretAccessKey"],
                       creds["SessionToken"])[0] == "InvalidClientTokenId"
        node.c.clock.advance(899)
        principal_of(system, creds["AccessKeyId"], creds["SecretAccessKey"],
                     creds["SessionToken"])
        node.c.clock.advance(1)
        assert code_of(principal_of, system, creds["AccessKeyId"], creds["SecretAccessKey"],
                       creds["SessionToken"]) == (
            "ExpiredToken", "The security token included in the request is expired")
        assert (await acode_of(system.sts.handle("GetSessionToken", {"DurationSeconds": 899},
                                                 bob)))[0] == "ValidationError"
        await node.stop()

    run(main())


def test_assume_role_needs_the_trust_policy_and_the_session_policy_narrows(tmp_path):
    async def main():
        node = Node(tmp_path)
        system = await node.start()
        root = principal_of(system, ROOT_ID, ROOT_SECRET)
        acct = system.account()
        iam = system.iam
        for name in ("carol", "dave"):
            await iam.handle("CreateUser", {"UserName": name}, root)
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/carol"},
            "Action": "sts:AssumeRole"}]})
        role = (await iam.handle("CreateRole", {"RoleName": "reader",
                                                "AssumeRolePolicyDocument": trust},
                                 root))["Role"]
        await iam.handle("PutRolePolicy", {"RoleName": "reader", "PolicyName": "get",
                                           "PolicyDocument": ALLOW_GET}, root)
        carol, dave = (await _principal(system, root, "carol"),
                       await _principal(system, root, "dave"))
        ask = {"RoleArn": role["Arn"], "RoleSessionName": "job-1"}
        assert (await acode_of(system.sts.handle("AssumeRole", ask, dave)))[0] == (
            "AccessDenied")
        assert (await acode_of(system.sts.handle("AssumeRole", ask, root))) == (
            "AccessDenied", "Roles may not be assumed by root accounts.")
        got = await system.sts.handle("AssumeRole", ask, carol)
        assert got["AssumedRoleUser"]["Arn"] == (
            f"arn:aws:sts::{acct}:assumed-role/reader/job-1")
        creds = got["Credentials"]
        session = principal_of(system, creds["AccessKeyId"], creds["SecretAccessKey"],
                               creds["SessionToken"])
        assert session.kind == ROLE_SESSION
        assert system.authz.decide(session, "s3:GetObject", "arn:aws:s3:::photos/a").allowed
        # a session policy can only narrow the role's permissions
        narrow = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::photos/public/*"}]})
        creds = (await system.sts.handle("AssumeRole", {**ask, "Policy": narrow},
                                         carol))["Credentials"]
        narrowed = principal_of(system, creds["AccessKeyId"], creds["SecretAccessKey"],
                                creds["SessionToken"])
        assert not system.authz.decide(narrowed, "s3:GetObject",
                                       "arn:aws:s3:::photos/a").allowed
        assert system.authz.decide(narrowed, "s3:GetObject",
                                   "arn:aws:s3:::photos/public/a").allowed
        assert not system.authz.decide(narrowed, "s3:PutObject",
                                       "arn:aws:s3:::photos/public/a").allowed
        # a trust policy naming the account delegates to the caller's own policies
        await iam.handle("UpdateAssumeRolePolicy", {"RoleName": "reader", "PolicyDocument":
                         trust.replace("user/carol", "root")}, root)
        assert (await acode_of(system.sts.handle("AssumeRole", ask, dave)))[0] == (
            "AccessDenied")
        may = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}]})
        await iam.handle("PutUserPolicy", {"UserName": "dave", "PolicyName": "assume",
                                           "PolicyDocument": may}, root)
        await system.sts.handle("AssumeRole", ask, dave)
        assert (await acode_of(system.sts.handle("AssumeRole", {
            **ask, "DurationSeconds": 3601}, dave)))[0] == "ValidationError"
        # the role's deletion ends its sessions
        await iam.handle("DeleteRolePolicy", {"RoleName": "reader", "PolicyName": "get"}, root)
        await iam.handle("DeleteRole", {"RoleName": "reader"}, root)
        assert code_of(principal_of, system, creds["AccessKeyId"], creds["SecretAccessKey"],
                       creds["SessionToken"])[0] == "InvalidClientTokenId"
        await node.stop()

    run(main())


async def _principal(system: IdentitySystem, root: Principal, user: str) -> Principal:
    key = (await system.iam.handle("CreateAccessKey", {"UserName": user}, root))["AccessKey"]
    return principal_of(system, key["AccessKeyId"], key["SecretAccessKey"])


def test_skew_is_measured_on_the_real_clock_and_expiry_on_the_engine_clock(tmp_path):
    """Tests move the engine clock hours ahead; a client signing with the real time must
    still get in, and one whose clock is off by more than 15 minutes must not."""
    async def scenario() -> None:
        node = Node(tmp_path)
        system = await node.start()
        try:
            real = node.wall
            node.c.clock.advance(6 * 3600)
            now_signed = sign_grpc(METHOD, "127.0.0.1:50051", b"msg",
                                   Credentials(ROOT_ID, ROOT_SECRET), "us-east-1", "s3", real)
            assert system.authn.grpc(METHOD, now_signed, b"msg", "s3").is_root
            late = sign_grpc(METHOD, "127.0.0.1:50051", b"msg",
                             Credentials(ROOT_ID, ROOT_SECRET), "us-east-1", "s3", real - 901)
            code, message = code_of(system.authn.grpc, METHOD, late, b"msg", "s3")
            assert code == "RequestTimeTooSkewed"
            assert message == ("The difference between the request time and the current "
                               "time is too large.")
        finally:
            await node.stop()

    run(scenario())


def test_a_link_shares_only_what_its_signer_may_read_and_only_until_it_expires(tmp_path):
    """A presigned GET made with a user's key: verified like any signed request, then
    authorized as that user (no policy, no access), and dead once X-Amz-Expires passes
    on the engine clock."""
    async def main() -> None:
        node = Node(tmp_path)
        system = await node.start()
        try:
            root = principal_of(system, ROOT_ID, ROOT_SECRET)
            await system.iam.handle("CreateUser", {"UserName": "bob"}, root)
            key = (await system.iam.handle("CreateAccessKey", {"UserName": "bob"},
                                           root))["AccessKey"]
            now = system.clock.now_ns() / 1e9
            url = presign_url("GET", "http://127.0.0.1:9000/photos/cat.jpg",
                              Credentials(key["AccessKeyId"], key["SecretAccessKey"]),
                              "us-east-1", "s3", 3600, now)
            parts = urlsplit(url)

            def open_link() -> Principal:
                verified = verify_request(
                    "GET", parts.path, parts.query, [("host", parts.netloc)], service="s3",
                    region="us-east-1", now=system.clock.now_ns() / 1e9,
                    lookup=lambda k: (system.authn.key(k) or (None,))[0])
                assert verified is not None and verified.presigned
                found = system.authn.key(verified.access_key_id)
                assert found is not None
                return found[1]

            bob = open_link()
            photo = "arn:aws:s3:::photos/cat.jpg"
            code, message = code_of(system.authz.check, bob, "s3:GetObject", photo)
            assert code == "AccessDenied" and message.startswith(
                f"User: {bob.arn} is not authorized to perform: s3:GetObject")
            await system.iam.handle("PutUserPolicy", {"UserName": "bob", "PolicyName": "read",
                                                      "PolicyDocument": ALLOW_GET}, root)
            assert system.authz.check(open_link(), "s3:GetObject", photo).allowed
            tampered = parts.query.replace("photos", "other")
            assert code_of(verify_request, "GET", "/other/cat.jpg", tampered,
                           [("host", parts.netloc)], service="s3", region="us-east-1",
                           now=system.clock.now_ns() / 1e9,
                           lookup=lambda k: key["SecretAccessKey"])[0] == (
                "SignatureDoesNotMatch")
            node.c.clock.advance(3601)
            assert code_of(open_link) == ("AccessDenied", "Request has expired")
        finally:
            await node.stop()

    run(main())
