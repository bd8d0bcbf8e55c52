"""`engine iam ...` as an operator runs it: subprocesses against a real server, signing
with root (the test credentials) or with the keys the commands create."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

READ_PHOTOS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadPhotos", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::photos/*"},
    {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*",
     "Resource": "arn:aws:s3:::photos/secret/*"}]})
INVALID_TOKEN = ("engine: InvalidClientTokenId: The security token included in the request "
                 "is invalid.\n")


def iam(server, *args: str, key: dict | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m engine iam ARGS --endpoint E`, as root or with ``key`` (an AccessKey)."""
    env = dict(os.environ)
    if key is not None:
        env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    cmd = [sys.executable, "-m", "engine", "iam", *args, "--endpoint", server.endpoint]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def ok_json(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(ok(proc))


def fails(proc: subprocess.CompletedProcess[str], line: str) -> None:
    """Exit 1 with exactly ``line`` on stderr (one `engine: <Code>: <Message>` line)."""
    assert (proc.returncode, proc.stderr) == (1, line), proc.stdout


@pytest.fixture(scope="module")
def account(shared_server) -> str:
    return ok_json(iam(shared_server, "whoami", "--json"))["Account"]


def test_users_and_keys_are_created_and_only_creation_shows_the_secret(shared_server,
                                                                       account):
    made = ok_json(iam(shared_server, "users", "create", "alice", "--json"))["User"]
    assert made["Arn"] == f"arn:aws:iam::{account}:user/alice"
    assert made["UserName"] == "alice" and made["UserId"].startswith("AIDA")
    assert "alice" in ok(iam(shared_server, "users", "list")).split()
    fails(iam(shared_server, "users", "create", "ALICE"),
          "engine: EntityAlreadyExists: User with name ALICE already exists.\n")

    table = ok(iam(shared_server, "keys", "create", "--user", "alice"))
    key_id = next(w for w in table.split() if w.startswith("AKIA"))
    secret = next(w for w in table.split() if len(w) == 40 and w != key_id)
    key = {"AccessKeyId": key_id, "SecretAccessKey": secret}
    me = ok_json(iam(shared_server, "whoami", "--json", key=key))
    assert me == {"UserId": made["UserId"], "Account": account, "Arn": made["Arn"]}

    listed = ok(iam(shared_server, "keys", "list", "--user", "alice"))
    assert key_id in listed and "Active" in listed and secret not in listed
    as_json = ok_json(iam(shared_server, "keys", "list", "--user", "alice", "--json"))
    assert [k["AccessKeyId"] for k in as_json["AccessKeyMetadata"]] == [key_id]
    assert secret not in json.dumps(as_json)
    assert secret not in ok(iam(shared_server, "users", "list", "--json"))


def test_rotation_replaces_the_key_and_deactivation_stops_it(shared_server, account):
    ok(iam(shared_server, "users", "create", "bob"))
    first = ok_json(iam(shared_server, "keys", "create", "--user", "bob", "--json"))[
        "AccessKey"]
    assert set(first) == {"UserName", "AccessKeyId", "Status", "SecretAccessKey",
                          "CreateDate"}

    rotated = ok_json(iam(shared_server, "keys", "rotate", "--user", "bob", "--json"))
    second = rotated["AccessKey"]
    assert rotated["DeactivatedAccessKeyId"] == first["AccessKeyId"]
    assert second["AccessKeyId"] != first["AccessKeyId"] and second["Status"] == "Active"
    # the new key works at once; the old one is refused on the next call, as IAM refuses
    assert ok_json(iam(shared_server, "whoami", "--json", key=second))["Arn"].endswith(
        ":user/bob")
    fails(iam(shared_server, "whoami", key=first), INVALID_TOKEN)
    statuses = {k["AccessKeyId"]: k["Status"] for k in ok_json(iam(
        shared_server, "keys", "list", "--user", "bob", "--json"))["AccessKeyMetadata"]}
    assert statuses == {first["AccessKeyId"]: "Inactive", second["AccessKeyId"]: "Active"}

    # a third key cannot exist: rotation is refused with IAM's words, and nothing changes
    fails(iam(shared_server, "keys", "rotate", "--user", "bob"),
          "engine: LimitExceeded: Cannot exceed quota for AccessKeysPerUser: 2\n")

    # deactivate by key id alone (the owner is looked up); the key stops at once
    out = ok(iam(shared_server, "keys", "deactivate", second["AccessKeyId"]))
    assert out == f"{second['AccessKeyId']} is Inactive\n"
    fails(iam(shared_server, "whoami", key=second), INVALID_TOKEN)
    ok(iam(shared_server, "keys", "activate", second["AccessKeyId"]))
    assert ok_json(iam(shared_server, "whoami", "--json", key=second))["Arn"].endswith(
        ":user/bob")
    ok(iam(shared_server, "keys", "delete", first["AccessKeyId"]))
    fails(iam(shared_server, "whoami", key=first), INVALID_TOKEN)
    # a user with keys is not deleted (IAM's DeleteConflict)
    fails(iam(shared_server, "users", "delete", "bob"),
          "engine: DeleteConflict: Cannot delete entity, must delete access keys first.\n")


def test_simulate_answers_allow_and_deny_and_names_the_statement(shared_server, account):
    ok(iam(shared_server, "users", "create", "carol"))
    ok(iam(shared_server, "policies", "put-inline", "photos", "--user", "carol",
           "--document", READ_PHOTOS))
    arn = f"arn:aws:iam::{account}:user/carol"

    allowed = iam(shared_server, "simulate", "--principal", arn, "--action", "s3:GetObject",
                  "--resource", "arn:aws:s3:::photos/cat.jpg")
    assert allowed.returncode == 0, allowed.stderr
    [row] = [line for line in allowed.stdout.splitlines() if "s3:GetObject" in line]
    assert "Allowed" in row and "allowed" in row and "photos (user)" in row

    denied = iam(shared_server, "simulate", "--principal", arn, "--action", "s3:GetObject",
                 "--action", "s3:PutObject", "--resource",
                 "arn:aws:s3:::photos/secret/plan.txt")
    assert denied.returncode == 3, denied.stderr
    rows = [line for line in denied.stdout.splitlines() if "photos/secret" in line]
    assert len(rows) == 2
    assert all("Denied" in r and "explicitDeny" in r and "photos (user)" in r for r in rows)

    as_json = iam(shared_server, "simulate", "--principal", "carol", "--action",
                  "s3:GetObject", "--resource", "arn:aws:s3:::photos/cat.jpg", "--resource",
                  "arn:aws:s3:::other/x", "--json")
    assert as_json.returncode == 3, as_json.stderr
    results = json.loads(as_json.stdout)["EvaluationResults"]
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("arn:aws:s3:::photos/cat.jpg", "allowed"), ("arn:aws:s3:::other/x", "implicitDeny")]
    # columns from 1; the end is just past the statement's closing brace
    start = READ_PHOTOS.index('{"Sid": "ReadPhotos"') + 1
    end = READ_PHOTOS.index('}, {"Sid": "NoSecrets"') + 2
    assert results[0]["MatchedStatements"] == [{
        "SourcePolicyId": "photos", "SourcePolicyType": "user",
        "StartPosition": {"Line": 1, "Column": start},
        "EndPosition": {"Line": 1, "Column": end}}]

    # a condition decided by --context
    office = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}}]})
    inside = iam(shared_server, "simulate", "--policy", office, "--action", "s3:PutObject",
                 "--context", "aws:SourceIp=10.1.2.3", "--json")
    outside = iam(shared_server, "simulate", "--policy", office, "--action", "s3:PutObject",
                  "--context", "aws:SourceIp=192.0.2.1", "--json")
    assert (inside.returncode, outside.returncode) == (0, 3)

    fails(iam(shared_server, "simulate", "--principal", f"arn:aws:iam::{account}:user/nobody",
              "--action", "s3:GetObject"),
          "engine: NoSuchEntity: The user with name nobody cannot be found.\n")


def test_groups_policies_and_roles(shared_server, account):
    ok(iam(shared_server, "users", "create", "dave"))
    ok(iam(shared_server, "groups", "create", "viewers"))
    assert ok(iam(shared_server, "groups", "add-user", "viewers", "dave")) == (
        "added dave to group viewers\n")
    made = ok_json(iam(shared_server, "policies", "create", "read-photos", "--document",
                       READ_PHOTOS, "--json"))["Policy"]
    assert made["Arn"] == f"arn:aws:iam::{account}:policy/read-photos"
    ok(iam(shared_server, "policies", "attach", "read-photos", "--group", "viewers"))
    attached = ok_json(iam(shared_server, "policies", "list", "--group", "viewers", "--json"))
    assert attached == {"AttachedPolicies": [{"PolicyName": "read-photos",
                                              "PolicyArn": made["Arn"]}], "PolicyNames": []}
    simulated = iam(shared_server, "simulate", "--principal", "dave", "--action",
                    "s3:GetObject", "--resource", "arn:aws:s3:::photos/a", "--json")
    assert simulated.returncode == 0
    [matched] = json.loads(simulated.stdout)["EvaluationResults"][0]["MatchedStatements"]
    assert (matched["SourcePolicyId"], matched["SourcePolicyType"]) == (
        "read-photos", "user-managed")

    fails(iam(shared_server, "policies", "delete", "read-photos"),
          "engine: DeleteConflict: Cannot delete a policy attached to entities.\n")
    ok(iam(shared_server, "policies", "detach", made["Arn"], "--group", "viewers"))
    ok(iam(shared_server, "groups", "remove-user", "viewers", "dave"))
    ok(iam(shared_server, "policies", "delete", "read-photos"))
    ok(iam(shared_server, "groups", "delete", "viewers"))
    assert "viewers" not in ok(iam(shared_server, "groups", "list"))

    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]})
    role = ok_json(iam(shared_server, "roles", "create", "deployer", "--trust", trust,
                       "--json"))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/deployer"
    assert "deployer" in ok(iam(shared_server, "roles", "list"))
    fails(iam(shared_server, "policies", "create", "bad", "--document", '{"Version": 1}'),
          "engine: MalformedPolicyDocument: The policy must contain a valid version string\n")
