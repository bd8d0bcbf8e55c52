"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) on a one-node
identity store: the decision, the statement that decided with its position in the
document, context entries driving conditions, and IAM's errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers_consensus import LocalCluster

from engine.errors import EngineError
from engine.iam import bootstrap
from engine.iam.bootstrap import ENV_KEY, ENV_SECRET
from engine.iam.sealing import Sealer
from engine.iam.service.simulate import position, statement_spans
from engine.iam.store.machine import IdentityMachine
from engine.iam.system import IdentitySystem

ENV = {ENV_KEY: "AKIAROOTROOTROOT0001", ENV_SECRET: "root-secret-root-secret-root-secret-0001"}
# Written as people write them: indented, so positions are worth checking.
READ_PHOTOS = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadPhotos",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]
        },
        {
            "Sid": "NoSecrets",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::photos/secret/*"
        }
    ]
}"""
OFFICE_ONLY = json.dumps({"Version": "2012-10-17", "Statement": {
    "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::photos/*",
    "Condition": {"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}}})
ALLOW_ALL_S3 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def started(root: Path) -> tuple[LocalCluster, IdentitySystem]:
    cluster = LocalCluster(root, lambda node, broken: IdentityMachine(), ["a"], name="meta")
    await cluster.start("a")
    await cluster.leader()
    system = IdentitySystem(cluster.group("a"), Sealer.from_secret("test-cluster-secret"),
                            cluster.clock, "us-east-1", root)
    account = await bootstrap.bootstrap_root(system.store, system.sealer, root,
                                             "2026-12-07T00:00:00Z", env=ENV,
                                             announce=lambda _: None)
    system.account_id = account["id"]
    return cluster, system


def with_system(test):
    """Run ``test(system, root, account)`` against a fresh store."""

    def wrapper(tmp_path):
        async def main():
            cluster, system = await started(tmp_path)
            try:
                await test(system, system.authn.root(), system.account())
            finally:
                await cluster.close()

        run(main())

    wrapper.__name__ = test.__name__
    return wrapper


async def refused(coro) -> tuple[str, str]:
    with pytest.raises(EngineError) as err:
        await coro
    return err.value.code, err.value.message


async def alice_with_photos(system, root) -> str:
    iam = system.iam
    arn = (await iam.handle("CreateUser", {"UserName": "alice"}, root))["User"]["Arn"]
    await iam.handle("PutUserPolicy", {"UserName": "alice", "PolicyName": "photos",
                                       "PolicyDocument": READ_PHOTOS}, root)
    return arn


@with_system
async def test_an_allow_names_the_statement_and_where_it_is(system, root, account):
    arn = await alice_with_photos(system, root)
    result = await system.iam.handle("SimulatePrincipalPolicy", {
        "PolicySourceArn": arn, "ActionNames": ["s3:GetObject", "s3:DeleteObject"],
        "ResourceArns": ["arn:aws:s3:::photos/cat.jpg"]}, root)
    allowed, implicit = result["EvaluationResults"]
    assert result["IsTruncated"] is False
    assert allowed == {
        "EvalActionName": "s3:GetObject", "EvalResourceName": "arn:aws:s3:::photos/cat.jpg",
        "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "photos", "SourcePolicyType": "user",
                               "StartPosition": {"Line": 4, "Column": 9},
                               "EndPosition": {"Line": 9, "Column": 10}}],
        "MissingContextValues": []}
    assert implicit["EvalDecision"] == "implicitDeny"
    assert implicit["MatchedStatements"] == []


@with_system
async def test_an_explicit_deny_lists_only_the_deny(system, root, account):
    arn = await alice_with_photos(system, root)
    # another Allow covering the same request: the Deny still decides, alone
    await system.iam.handle("CreateGroup", {"GroupName": "staff"}, root)
    await system.iam.handle("AddUserToGroup", {"GroupName": "staff", "UserName": "alice"}, root)
    made = await system.iam.handle("CreatePolicy", {"PolicyName": "all-s3",
                                                    "PolicyDocument": ALLOW_ALL_S3}, root)
    await system.iam.handle("AttachGroupPolicy", {"GroupName": "staff",
                                                  "PolicyArn": made["Policy"]["Arn"]}, root)
    result = await system.iam.handle("SimulatePrincipalPolicy", {
        "PolicySourceArn": arn, "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::photos/secret/plan.txt", "arn:aws:s3:::other/x"]},
        root)
    denied, other = result["EvaluationResults"]
    assert denied["EvalDecision"] == "explicitDeny"
    assert denied["MatchedStatements"] == [
        {"SourcePolicyId": "photos", "SourcePolicyType": "user",
         "StartPosition": {"Line": 10, "Column": 9}, "EndPosition": {"Line": 15, "Column": 10}}]
    # allowed through the group's managed policy only
    assert other["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in other["MatchedStatements"]
            ] == [("all-s3", "user-managed")]


@with_system
async def test_context_entries_drive_conditions(system, root, account):
    iam = system.iam
    arn = (await iam.handle("CreateUser", {"UserName": "bob"}, root))["User"]["Arn"]
    await iam.handle("PutUserPolicy", {"UserName": "bob", "PolicyName": "office",
                                       "PolicyDocument": OFFICE_ONLY}, root)

    async def decide(*entries) -> dict:
        params = {"PolicySourceArn": arn, "ActionNames": ["s3:PutObject"],
                  "ResourceArns": ["arn:aws:s3:::photos/new.jpg"],
                  "ContextEntries": [{"ContextKeyName": "aws:SourceIp",
                                      "ContextKeyValues": [ip], "ContextKeyType": "ip"}
                                     for ip in entries]}
        return (await iam.handle("SimulatePrincipalPolicy", params, root))[
            "EvaluationResults"][0]

    inside = await decide("10.1.2.3")
    assert inside["EvalDecision"] == "allowed" and inside["MissingContextValues"] == []
    assert inside["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 40}
    assert (await decide("192.0.2.1"))["EvalDecision"] == "implicitDeny"
    missing = await decide()
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["aws:SourceIp"]


@with_system
async def test_custom_policies_and_a_resource_policy(system, root, account):
    caller = f"arn:aws:iam::{account}:user/carol"
    bucket_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Carol", "Effect": "Allow", "Principal": {"AWS": caller},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"}]})
    result = await system.iam.handle("SimulateCustomPolicy", {
        "PolicyInputList": [OFFICE_ONLY], "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::shared/a"], "ResourcePolicy": bucket_policy,
        "CallerArn": caller,
        "ContextEntries": [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.0.9"],
                            "ContextKeyType": "ip"}]}, root)
    get, put = result["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in get["MatchedStatements"]
            ] == [("ResourcePolicy", "resource")]
    assert put["EvalDecision"] == "implicitDeny"  # the identity policy is for photos/*


@with_system
async def test_the_source_arn_must_name_an_existing_user_group_or_role(system, root, account):
    iam = system.iam

    def simulate(arn: str):
        return iam.handle("SimulatePrincipalPolicy", {"PolicySourceArn": arn,
                                                      "ActionNames": ["s3:GetObject"]}, root)

    assert await refused(simulate(f"arn:aws:iam::{account}:user/nobody")) == (
        "NoSuchEntity", "The user with name nobody cannot be found.")
    assert await refused(simulate(f"arn:aws:iam::{account}:role/nobody")) == (
        "NoSuchEntity", "The role with name nobody cannot be found.")
    session = f"arn:aws:sts::{account}:assumed-role/reader/s1"
    assert await refused(simulate(session)) == ("InvalidInput",
                                                f"Invalid Entity Arn: {session}")
    assert await refused(simulate("alice")) == ("InvalidInput", "Invalid Entity Arn: alice")
    assert (await refused(iam.handle("SimulatePrincipalPolicy",
                                     {"ActionNames": ["s3:GetObject"]}, root)))[0] == (
        "ValidationError")
    await alice_with_photos(system, root)
    assert await refused(iam.handle("SimulatePrincipalPolicy", {
        "PolicySourceArn": f"arn:aws:iam::{account}:user/alice",
        "ActionNames": ["s3:GetObject"], "ResourceArns": ["photos/cat.jpg"]}, root)) == (
        "InvalidInput", "ResourceNames are not in a valid ARN format: photos/cat.jpg.")
    assert (await refused(iam.handle("SimulateCustomPolicy", {
        "PolicyInputList": ['{"Version": "2012-10-17"}'], "ActionNames": ["s3:GetObject"]},
        root)))[0] == "MalformedPolicyDocument"


@with_system
async def test_a_group_and_a_role_are_simulated_with_their_own_policies(system, root, account):
    iam = system.iam
    group = (await iam.handle("CreateGroup", {"GroupName": "viewers"}, root))["Group"]["Arn"]
    await iam.handle("PutGroupPolicy", {"GroupName": "viewers", "PolicyName": "view",
                                        "PolicyDocument": READ_PHOTOS}, root)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]})
    role = (await iam.handle("CreateRole", {"RoleName": "writer",
                                            "AssumeRolePolicyDocument": trust}, root))
    await iam.handle("PutRolePolicy", {"RoleName": "writer", "PolicyName": "all",
                                       "PolicyDocument": ALLOW_ALL_S3}, root)
    for arn, kind in ((group, "group"), (role["Role"]["Arn"], "role")):
        result = (await iam.handle("SimulatePrincipalPolicy", {
            "PolicySourceArn": arn, "ActionNames": ["s3:ListBucket"],
            "ResourceArns": ["arn:aws:s3:::photos"]}, root))["EvaluationResults"][0]
        assert result["EvalDecision"] == "allowed"
        assert result["MatchedStatements"][0]["SourcePolicyType"] == kind


@with_system
async def test_results_page_with_marker_and_max_items(system, root, account):
    arn = await alice_with_photos(system, root)
    params = {"PolicySourceArn": arn, "ActionNames": ["s3:GetObject", "s3:PutObject"],
              "ResourceArns": ["arn:aws:s3:::photos/a"], "MaxItems": 1}
    first = await system.iam.handle("SimulatePrincipalPolicy", params, root)
    assert (first["IsTruncated"], first["Marker"]) == (True, "1")
    second = await system.iam.handle("SimulatePrincipalPolicy",
                                     {**params, "Marker": first["Marker"]}, root)
    assert second["IsTruncated"] is False and "Marker" not in second
    assert [r["EvalActionName"] for r in first["EvaluationResults"]
            + second["EvaluationResults"]] == ["s3:GetObject", "s3:PutObject"]
    assert await refused(system.iam.handle("SimulatePrincipalPolicy",
                                           {**params, "Marker": "x"}, root)) == (
        "InvalidInput", "Invalid Marker: x")


def test_statement_positions_for_an_array_a_single_statement_and_one_line():
    assert statement_spans(READ_PHOTOS)[1][0] == READ_PHOTOS.index('{\n            "Sid": "No')
    single = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow"}}'
    assert statement_spans(single) == [(39, 58)]
    assert position(single, 39) == {"Line": 1, "Column": 40}
    assert statement_spans("not json") == []


def test_simulating_a_principal_is_authorized_on_that_principal():
    from engine.api.access_table import Target, accesses
    from engine.v1 import iam_pb2

    target = Target("123456789012", "us-east-1")
    arn = "arn:aws:iam::123456789012:user/alice"
    method = "/engine.v1.Iam/Call"
    [principal] = accesses(method, iam_pb2.AwsCall(
        action="SimulatePrincipalPolicy", params_json=json.dumps({"PolicySourceArn": arn})),
        target)
    assert (principal.action, principal.resource) == ("iam:SimulatePrincipalPolicy", arn)
    [custom] = accesses(method, iam_pb2.AwsCall(action="SimulateCustomPolicy",
                                                params_json="{}"), target)
    assert (custom.action, custom.resource) == ("iam:SimulateCustomPolicy", "*")
