"""`engine serve --audit-log FILE` against a real server: the lines a denied call, a
failed signature and a mutating call produce (field by field), none for reads, no
secret ever, and rotation at the size limit. The server is stopped before the file is
read: a clean stop writes every queued line."""

from __future__ import annotations

import datetime as dt
import json
import re

from credentials import ROOT_KEY_ID, ROOT_SECRET

from engine.client import ClientError, client, signed_channels
from engine.v1 import iam_pb2, iam_pb2_grpc

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYS = ["time", "request_id", "decision", "error_code", "principal", "access_key_id",
        "action", "resource", "method", "source"]


def lines(path) -> list[dict]:
    found = [json.loads(text) for text in path.read_text().splitlines()]
    for line in found:
        assert list(line) == KEYS
        assert TIME.match(line["time"])
        assert line["source"].startswith("ipv4:127.0.0.1:")
        assert line["request_id"]
    return found


def code_of(call) -> str | None:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def test_denials_and_changes_are_audited_and_reads_are_not(server_factory, tmp_path):
    path = tmp_path / "audit" / "audit.log"
    server = server_factory("--audit-log", str(path)).start()
    endpoint = server.endpoint
    with client("s3", endpoint=endpoint) as s3, client("iam", endpoint=endpoint) as iam:
        s3.create_bucket(Bucket="audited")  # a change
        s3.list_buckets()  # reads
        s3.head_bucket(Bucket="audited")
        iam.list_users()
        iam.create_user(UserName="eve")  # changes
        key = iam.create_access_key(UserName="eve")["AccessKey"]
        account = iam.get_user(UserName="eve")["User"]["Arn"].split(":")[4]
    eve = {"aws_access_key_id": key["AccessKeyId"],
           "aws_secret_access_key": key["SecretAccessKey"]}
    with client("s3", endpoint=endpoint, **eve) as as_eve:
        assert code_of(lambda: as_eve.put_object(Bucket="audited", Key="k", Body=b"x")) == (
            "AccessDenied")
    forged = {"aws_access_key_id": key["AccessKeyId"],
              "aws_secret_access_key": "w" * 40}
    with client("s3", endpoint=endpoint, **forged) as as_forger:
        assert code_of(as_forger.list_buckets) == "SignatureDoesNotMatch"
    with signed_channels.insecure_channel(endpoint) as channel:
        iam_pb2_grpc.IamStub(channel).Call(
            iam_pb2.AwsCall(action="CreateGroup", params_json='{"GroupName": "auditors"}'),
            metadata=[("x-request-id", "audit-test-0001")], timeout=30)
    assert server.stop() == 0

    found = lines(path)
    root, user = f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:user/eve"
    assert [(x["decision"], x["error_code"], x["principal"], x["access_key_id"], x["action"],
             x["resource"], x["method"]) for x in found] == [
        ("allow", None, root, ROOT_KEY_ID, "s3:CreateBucket", "arn:aws:s3:::audited",
         "/engine.v1.ObjectStore/CreateBucket"),
        ("allow", None, root, ROOT_KEY_ID, "iam:CreateUser", user, "/engine.v1.Iam/Call"),
        ("allow", None, root, ROOT_KEY_ID, "iam:CreateAccessKey", user, "/engine.v1.Iam/Call"),
        ("deny", "AccessDenied", user, key["AccessKeyId"], "s3:PutObject",
         "arn:aws:s3:::audited/k", "/engine.v1.ObjectStore/PutObject"),
        ("deny", "SignatureDoesNotMatch", "anonymous", key["AccessKeyId"],
         "s3:ListAllMyBuckets", "*", "/engine.v1.ObjectStore/ListBuckets"),
        ("allow", None, root, ROOT_KEY_ID, "iam:CreateGroup",
         f"arn:aws:iam::{account}:group/auditors", "/engine.v1.Iam/Call"),
    ]
    assert found[-1]["request_id"] == "audit-test-0001"
    assert len({x["request_id"] for x in found}) == len(found)
    first = dt.datetime.fromisoformat(found[0]["time"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - first).total_seconds()) < 300
    text = path.read_text()
    for secret in (ROOT_SECRET, key["SecretAccessKey"], "w" * 40, "Signature="):
        assert secret not in text


def test_per_key_deletes_and_role_assumption_are_audited_by_their_outcome(server_factory,
                                                                          tmp_path):
    path = tmp_path / "audit.log"
    server = server_factory("--audit-log", str(path)).start()
    endpoint = server.endpoint
    with client("s3", endpoint=endpoint) as s3, client("iam", endpoint=endpoint) as iam:
        s3.create_bucket(Bucket="mixed")
        iam.create_user(UserName="frank")
        iam.put_user_policy(UserName="frank", PolicyName="scratch", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:DeleteObject",
                 "Resource": "arn:aws:s3:::mixed/scratch/*"}]}))
        key = iam.create_access_key(UserName="frank")["AccessKey"]
        account = iam.get_user(UserName="frank")["User"]["Arn"].split(":")[4]
    frank = {"aws_access_key_id": key["AccessKeyId"],
             "aws_secret_access_key": key["SecretAccessKey"]}
    with client("s3", endpoint=endpoint, **frank) as s3, \
            client("sts", endpoint=endpoint, **frank) as sts:
        result = s3.delete_objects(Bucket="mixed", Delete={"Objects": [
            {"Key": "scratch/a"}, {"Key": "keep/b"}]})
        assert [e["Key"] for e in result["Errors"]] == ["keep/b"]
        role = f"arn:aws:iam::{account}:role/missing"
        assert code_of(lambda: sts.assume_role(RoleArn=role, RoleSessionName="session1")) == (
            "AccessDenied")
        sts.get_caller_identity()  # needs no permission, changes nothing: no line
    assert server.stop() == 0

    user = f"arn:aws:iam::{account}:user/frank"
    tail = [(x["decision"], x["error_code"], x["principal"], x["action"], x["resource"])
            for x in lines(path)][-3:]
    assert tail == [
        ("deny", "AccessDenied", user, "s3:DeleteObject", "arn:aws:s3:::mixed/keep/b"),
        ("allow", None, user, "s3:DeleteObject", "arn:aws:s3:::mixed/scratch/a"),
        ("deny", "AccessDenied", user, "sts:AssumeRole", role),
    ]


def test_the_log_rotates_at_its_size_and_keeps_its_backups(server_factory, tmp_path):
    path = tmp_path / "audit.log"
    server = server_factory("--audit-log", str(path), "--audit-log-max-bytes", "2KiB",
                            "--audit-log-backups", "2").start()
    with client("iam", endpoint=server.endpoint) as iam:
        for n in range(30):  # about 280 bytes a line: several files' worth
            iam.create_group(GroupName=f"group-{n:02d}")
    assert server.stop() == 0
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("audit.log"))
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 2048
    newest, older = lines(path), lines(tmp_path / "audit.log.1")
    assert newest[-1]["resource"].endswith(":group/group-29")
    assert older[-1]["resource"].endswith(f":group/group-{30 - len(newest) - 1:02d}")
