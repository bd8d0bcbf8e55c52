"""The SQS bench client's wire: its signature is botocore's for the same SQS JSON call,
its errors carry the code boto3 reports, and a run of both protocols reports each SQS
phase beside its gRPC twin with their ratio."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET

from engine.bench.sqs_http import SqsTarget, error_of
from engine.bench.sqs_queues import merge_protocols

FIXED = datetime.datetime(2024, 2, 29, 23, 59, 30)
FIXED_EPOCH = 1709251170.0
ENDPOINT = "127.0.0.1:9000"


def test_signature_is_botocores(monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED)
    body = b'{"QueueUrl":"http://127.0.0.1:9000/000000000000/q","MaxNumberOfMessages":10}'
    ours = {k.lower(): v for k, v in SqsTarget(ENDPOINT).headers(
        "ReceiveMessage", body, now=FIXED_EPOCH).items()}
    request = AWSRequest(method="POST", url=f"http://{ENDPOINT}/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.ReceiveMessage"})
    SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "sqs", REGION).add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"] == "20240229T235930Z"
    assert "x-amz-content-sha256" not in ours  # SQS signs the body, sends no hash


@pytest.mark.parametrize(("status", "header", "body", "code"), [
    # as SQS answers a missing queue in the JSON protocol (code from the header)
    (400, "AWS.SimpleQueueService.NonExistentQueue;Sender",
     b'{"__type":"com.amazonaws.sqs#QueueDoesNotExist",'
     b'"message":"The specified queue does not exist."}',
     "AWS.SimpleQueueService.NonExistentQueue"),
    (503, None, b'{"__type":"com.amazonaws.sqs#ServiceUnavailable","message":"later"}',
     "ServiceUnavailable"),
    (502, None, b"<html>bad gateway</html>", "HTTP502"),
])
def test_error_codes_are_what_boto3_reports(status, header, body, code):
    err = error_of(status, header, body)
    assert (err.code, err.status, err.unavailable) == (code, status, status == 503)


def _report(rate: float, queue: str, baseline: bool = True) -> dict:
    phase = {"messages_per_s": rate, "ops_per_s": rate / 10}
    return {"config": {"queue": queue, "protocol": "x"}, "phases": {"receive": phase},
            "baseline": {"unary": {"ops_per_s": 1.0}} if baseline else None,
            "vs_baseline": {"receive": {"baseline": "unary", "metric": "ops_per_s",
                                        "fraction": 0.5}},
            "pipeline": None, "compare": None}


def test_both_protocols_in_one_report():
    merged = merge_protocols(_report(1000.0, "g"), _report(850.0, "s"))
    assert merged["config"]["protocol"] == "both"
    assert (merged["config"]["queue"], merged["config"]["sqs_queue"]) == ("g", "s")
    assert list(merged["phases"]) == ["receive", "sqs:receive"]
    assert set(merged["baseline"]) == {"unary", "http:unary"}
    assert merged["vs_baseline"]["sqs:receive"]["baseline"] == "http:unary"
    assert merged["sqs_vs_grpc"] == {"receive": {"metric": "messages_per_s",
                                                 "fraction": pytest.approx(0.85)}}
