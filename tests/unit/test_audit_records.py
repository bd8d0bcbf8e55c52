"""The audit log's pieces: the one rule for what is mutating, the file (rotation, mode,
the engine clock's time) and what is taken from a signature (the key id, nothing else).
The lines a real server writes are tested in tests/integration/test_audit_log.py."""

from __future__ import annotations

import json
import stat

import pytest

from engine.api.access_rules_types import Access
from engine.api.audit import AuditLog, is_mutating, signed_key_id
from engine.clock import ManualClock


@pytest.mark.parametrize(("action", "mutating"), [
    ("s3:PutObject", True), ("s3:DeleteObject", True), ("s3:PutBucketPolicy", True),
    ("s3:CreateBucket", True), ("s3:AbortMultipartUpload", True), ("s3:RestoreObject", True),
    ("s3:GetObject", False), ("s3:GetObjectVersion", False), ("s3:ListBucket", False),
    ("s3:ListAllMyBuckets", False),
    ("sqs:SendMessage", True), ("sqs:DeleteMessage", True), ("sqs:PurgeQueue", True),
    ("sqs:ReceiveMessage", False), ("sqs:GetQueueUrl", False),
    ("elasticache:WriteKeys", True), ("elasticache:FlushAll", True),
    ("elasticache:ReadKeys", False), ("elasticache:DescribeCache", False),
    ("iam:CreateUser", True), ("iam:UpdateAccessKey", True), ("iam:AttachUserPolicy", True),
    ("iam:GetUser", False), ("iam:ListUsers", False), ("iam:SimulatePrincipalPolicy", False),
    ("sts:AssumeRole", True), ("sts:GetSessionToken", False),
    ("engine:Heal", True), ("engine:AdvanceClock", True),
    ("engine:Status", False), ("engine:Echo", False),
])
def test_what_is_mutating(action, mutating):
    assert is_mutating(action) is mutating


def test_only_the_key_id_is_taken_from_a_signature():
    auth = ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/20260501/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32)
    assert signed_key_id([("x-amz-date", "20260501T000000Z"), ("authorization", auth)]) == (
        "AKIAEXAMPLE000000001")
    assert signed_key_id([("authorization", "Bearer whatever")]) is None
    assert signed_key_id([]) is None


def test_lines_carry_the_engine_clock_and_the_file_rotates_at_its_size(tmp_path):
    clock = ManualClock(1_777_636_800 * 10**9 + 123_456_789)  # 2026-05-01T12:00:00.123Z
    path = tmp_path / "logs" / "audit.log"
    log = AuditLog(path, clock, max_bytes=600, backups=2)
    for n in range(20):
        log.write({"n": n, "pad": "x" * 100})
    log.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]  # two old files kept
    for name in files:
        assert (path.parent / name).stat().st_size <= 600
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600
    newest = [json.loads(line) for line in path.read_text().splitlines()]
    older = [json.loads(line) for line in (path.parent / "audit.log.1").read_text().splitlines()]
    assert newest[-1]["n"] == 19 and older[-1]["n"] == newest[0]["n"] - 1


def test_a_line_has_every_key_and_the_time_in_utc(tmp_path):
    clock = ManualClock(1_777_636_800 * 10**9 + 123_456_789)
    path = tmp_path / "audit.log"
    log = AuditLog(path, clock, max_bytes=1 << 20, backups=1)

    class Context:
        def peer(self) -> str:
            return "ipv4:127.0.0.1:40000"

    call = log.call("/engine.v1.ObjectStore/PutObject", "s3", [], Context())  # type: ignore[arg-type]
    call.admitted([Access("s3:PutObject", "arn:aws:s3:::b/k")], request=None)
    call.admitted([Access("s3:GetObject", "arn:aws:s3:::b/k")], request=None)  # read: no line
    log.close()
    [line] = [json.loads(text) for text in path.read_text().splitlines()]
    assert line == {"time": "2026-05-01T12:00:00.123Z", "request_id": None,
                    "decision": "allow", "error_code": None, "principal": "anonymous",
                    "access_key_id": None, "action": "s3:PutObject",
                    "resource": "arn:aws:s3:::b/k",
                    "method": "/engine.v1.ObjectStore/PutObject",
                    "source": "ipv4:127.0.0.1:40000"}
