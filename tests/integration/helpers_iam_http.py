"""Helpers of the IAM/STS-over-HTTP tests: boto3's IAM and STS clients on a node's AWS
port, raw query-protocol requests signed by botocore's own SigV4 signer, and reading
the query protocol's XML errors."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import Config
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET
from helpers_s3_http import Answer, send

FORM = "application/x-www-form-urlencoded; charset=utf-8"
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


@dataclass(frozen=True)
class Keys:
    key: str = ROOT_KEY_ID
    secret: str = ROOT_SECRET
    token: str | None = None

    @classmethod
    def of(cls, credentials: dict) -> Keys:
        """From an AccessKey or a Credentials member of an IAM/STS answer."""
        return cls(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                   credentials.get("SessionToken"))


ROOT = Keys()


def client(service: str, endpoint_url: str, keys: Keys = ROOT):
    """boto3's ``service`` client as a user makes one, without retries: a test wants the
    first answer."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION,
                        aws_access_key_id=keys.key, aws_secret_access_key=keys.secret,
                        aws_session_token=keys.token,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                      s3={"addressing_style": "path"}))


def unique(hint: str) -> str:
    return f"{hint[:30].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def query(endpoint_url: str, body: bytes | str | dict, *, service: str = "iam",
          keys: Keys | None = ROOT, content_type: str = FORM) -> Answer:
    """POST / with ``body`` (a dict is form-encoded as SDKs do), signed for ``service``
    by botocore's signer (None: unsigned)."""
    data = urlencode(body).encode() if isinstance(body, dict) else (
        body.encode() if isinstance(body, str) else body)
    headers = {"Content-Type": content_type}
    if keys is None:
        return send(endpoint_url, "POST", list(headers.items()), data, path="/")
    request = AWSRequest(method="POST", url=endpoint_url + "/", data=data, headers=headers)
    SigV4Auth(Credentials(keys.key, keys.secret, keys.token), service, REGION
              ).add_auth(request)
    return send(endpoint_url, "POST", list(request.headers.items()), data, path="/")


@dataclass(frozen=True)
class QueryError:
    status: int
    type: str
    code: str
    message: str
    request_id: str


def error_of(answer: Answer, namespace: str = IAM_NS) -> QueryError:
    """The query protocol's ``<ErrorResponse>``, in ``namespace``, with its request id
    also in the x-amzn-RequestId header."""
    assert answer.headers["content-type"].startswith("text/xml"), answer.headers
    root = ET.fromstring(answer.body)
    assert root.tag == f"{namespace}ErrorResponse", answer.body
    error = root.find(f"{namespace}Error")
    assert error is not None, answer.body

    def text(parent: ET.Element, name: str) -> str:
        return parent.findtext(f"{namespace}{name}") or ""

    rid = text(root, "RequestId")
    assert rid and rid == answer.headers["x-amzn-requestid"]
    return QueryError(answer.status, text(error, "Type"), text(error, "Code"),
                      text(error, "Message"), rid)
