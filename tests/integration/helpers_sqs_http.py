"""Helpers of the SQS-over-HTTP tests: boto3's SQS client on a node's AWS port, and raw
JSON-protocol requests signed by botocore's own SigV4 signer (service "sqs")."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import Config
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET
from helpers_s3_http import Answer, send

JSON_1_0 = "application/x-amz-json-1.0"


def sqs_client(endpoint_url: str, *, key: str = ROOT_KEY_ID, secret: str = ROOT_SECRET):
    """boto3's SQS client as a user makes one (JSON protocol), without retries: a test
    wants the first answer."""
    return boto3.client("sqs", endpoint_url=endpoint_url, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def queue_name(hint: str) -> str:
    return f"{hint[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"


def signed_post(endpoint_url: str, target: str | None, body: bytes, *,
                key: str = ROOT_KEY_ID, secret: str = ROOT_SECRET,
                headers: dict[str, str] | None = None) -> Answer:
    """POST / with ``body`` as it is (valid JSON or not), ``X-Amz-Target: target`` (none
    when None), signed for SQS as botocore signs (the body's SHA-256 in the signature,
    no x-amz-content-sha256 header)."""
    fields = {"Content-Type": JSON_1_0, **(headers or {})}
    if target is not None:
        fields["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=endpoint_url + "/", data=body, headers=fields)
    SigV4Auth(Credentials(key, secret), "sqs", REGION).add_auth(request)
    return send(endpoint_url, "POST", list(request.headers.items()), body, path="/")


def call(endpoint_url: str, operation: str, document: dict[str, Any]) -> Answer:
    return signed_post(endpoint_url, f"AmazonSQS.{operation}", json.dumps(document).encode())


def error_of(answer: Answer) -> tuple[int, str, str, str]:
    """(status, __type, x-amzn-query-error, message) of an error answer."""
    body = json.loads(answer.body)
    return (answer.status, body["__type"], answer.headers.get("x-amzn-query-error", ""),
            body["message"])
