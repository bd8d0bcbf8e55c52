"""ElastiCache users through the SDK against a real server: boto3's method names, shapes,
paginator and modeled errors, and IAM authorization of the user API. One server serves the
module; the round trip, which counts every user, runs first."""

from __future__ import annotations

import json

import pytest

from engine.client import client

PW = "round-trip-password-01"


def test_a_user_round_trip_with_boto3s_names(shared_server):
    ec = client("elasticache", endpoint=shared_server.endpoint)
    made = ec.create_user(UserId="app-reader", UserName="app-reader", Engine="redis",
                          AccessString="on ~app:* +@read", Passwords=[PW])
    account = client("sts", endpoint=shared_server.endpoint).get_caller_identity()["Account"]
    assert {k: v for k, v in made.items() if k != "ResponseMetadata"} == {
        "UserId": "app-reader", "UserName": "app-reader", "Status": "active",
        "Engine": "redis", "MinimumEngineVersion": "6.0", "AccessString": "on ~app:* +@read",
        "UserGroupIds": [], "Authentication": {"Type": "password", "PasswordCount": 1},
        "ARN": f"arn:aws:elasticache:us-east-1:{account}:user:app-reader"}
    changed = ec.modify_user(UserId="app-reader", AppendAccessString="+set",
                             AuthenticationMode={"Type": "password",
                                                 "Passwords": [PW, PW + "x"]})
    assert changed["AccessString"] == "on ~app:* +@read +set"
    assert changed["Authentication"] == {"Type": "password", "PasswordCount": 2}
    for i in range(25):
        ec.create_user(UserId=f"bulk-{i:02d}", UserName=f"bulk-{i:02d}", Engine="valkey",
                       AccessString="off", NoPasswordRequired=True)
    pages = list(ec.get_paginator("describe_users").paginate(
        PaginationConfig={"PageSize": 20}))
    assert [len(p["Users"]) for p in pages] == [20, 7]
    ids = [u["UserId"] for p in pages for u in p["Users"]]
    assert ids == sorted(ids) and "default" in ids
    [one] = ec.describe_users(UserId="app-reader")["Users"]
    assert one["AccessString"] == "on ~app:* +@read +set"
    assert ec.delete_user(UserId="app-reader")["Status"] == "deleting"

    with pytest.raises(ec.exceptions.UserNotFoundFault) as missing:
        ec.describe_users(UserId="app-reader")
    assert missing.value.response["Error"] == {
        "Type": "Sender", "Code": "UserNotFound", "Message": "User app-reader not found."}
    with pytest.raises(ec.exceptions.UserAlreadyExistsFault):
        ec.create_user(UserId="bulk-00", UserName="other", Engine="redis", AccessString="on",
                       NoPasswordRequired=True)
    with pytest.raises(ec.exceptions.InvalidParameterValueException) as bad:
        ec.create_user(UserId="x", UserName="x", Engine="redis", AccessString="on +nosuch",
                       NoPasswordRequired=True)
    assert bad.value.response["Error"]["Message"] == (
        "Access string is invalid: Unknown command or category name in ACL (in rule "
        "'+nosuch')")
    with pytest.raises(ec.exceptions.InvalidParameterCombinationException):
        ec.create_user(UserId="y", UserName="y", Engine="redis", AccessString="on",
                       NoPasswordRequired=True, Passwords=[PW])


def test_the_user_api_is_authorized_by_iam(shared_server):
    iam = client("iam", endpoint=shared_server.endpoint)
    iam.create_user(UserName="cache-admin")
    key = iam.create_access_key(UserName="cache-admin")["AccessKey"]
    account = client("sts", endpoint=shared_server.endpoint).get_caller_identity()["Account"]
    iam.put_user_policy(UserName="cache-admin", PolicyName="users", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["elasticache:CreateUser", "elasticache:DescribeUsers"],
            "Resource": f"arn:aws:elasticache:us-east-1:{account}:user:team-*"}]}))
    ec = client("elasticache", endpoint=shared_server.endpoint,
                aws_access_key_id=key["AccessKeyId"],
                aws_secret_access_key=key["SecretAccessKey"])
    ec.create_user(UserId="team-a", UserName="team-a", Engine="redis", AccessString="on +get",
                   NoPasswordRequired=True)
    assert ec.describe_users(UserId="team-a")["Users"][0]["UserId"] == "team-a"
    with pytest.raises(Exception) as denied:
        ec.delete_user(UserId="team-a")
    error = denied.value.response["Error"]  # type: ignore[attr-defined]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: arn:aws:iam::{account}:user/cache-admin is not authorized to perform: "
        f"elasticache:DeleteUser on resource: arn:aws:elasticache:us-east-1:{account}:user:"
        "team-a because no identity-based policy allows the elasticache:DeleteUser action")
    with pytest.raises(Exception) as denied:
        ec.describe_users()  # every user: user:*
    assert denied.value.response["Error"]["Code"] == "AccessDenied"  # type: ignore[attr-defined]
