"""Helpers of the SQS query-protocol tests: botocore's own query client for SQS, and raw
form requests signed by botocore's SigV4 signer (service "sqs").

Current botocore speaks JSON to SQS; the query-protocol model of botocore 1.31.0
(``sqs/2012-11-05/service-2.json``, protocol "query") is vendored under
tests/data/botocore-sqs-query (Apache-2.0, its LICENSE.txt beside it) and loaded as a
custom data path, so the requests are botocore's query serializer's and the answers are
read by botocore's XML parser, as aws-cli v1 and older SDKs read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlencode

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import Config
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET
from helpers_s3_http import Answer, send

QUERY_MODEL = Path(__file__).resolve().parents[1] / "data" / "botocore-sqs-query"
NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def query_client(endpoint_url: str, *, key: str = ROOT_KEY_ID, secret: str = ROOT_SECRET):
    """An SQS client that speaks the query protocol (Action=...&Version=2012-11-05, XML
    answers), without retries: a test wants the first answer."""
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(QUERY_MODEL))
    client = boto3.Session(botocore_session=session).client(
        "sqs", endpoint_url=endpoint_url, region_name=REGION, aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    assert client.meta.service_model.protocol == "query"
    return client


def form_request(endpoint_url: str, params: dict[str, str], *, method: str = "POST",
                 path: str = "/", key: str = ROOT_KEY_ID, secret: str = ROOT_SECRET,
                 headers: dict[str, str] | None = None) -> Answer:
    """``params`` as a form body (POST) or the query string (GET) of ``path``, signed for
    SQS as botocore signs (the body's SHA-256 in the signature)."""
    encoded = urlencode(params, quote_via=quote)
    if method == "GET":
        target, body = f"{path}?{encoded}", b""
        fields = dict(headers or {})
    else:
        target, body = path, encoded.encode()
        fields = {"Content-Type": FORM, **(headers or {})}
    request = AWSRequest(method=method, url=endpoint_url + target, data=body, headers=fields)
    SigV4Auth(Credentials(key, secret), "sqs", REGION).add_auth(request)
    return send(endpoint_url, method, list(request.headers.items()),
                body if method != "GET" else None, path=target)


def xml_error(answer: Answer) -> tuple[int, str, str, str]:
    """(status, Type, Code, Message) of a query-protocol error answer."""
    root = ET.fromstring(answer.body)
    assert root.tag == NS + "ErrorResponse"
    error = root.find(NS + "Error")
    assert error is not None and error.find(NS + "Detail") is not None
    assert root.findtext(NS + "RequestId") == answer.headers["x-amzn-requestid"]
    return (answer.status, error.findtext(NS + "Type") or "", error.findtext(NS + "Code") or "",
            error.findtext(NS + "Message") or "")
