"""Helpers of the S3 conformance run (tests/integration/test_s3_conformance_*.py): what
an S3 error looked like to boto3, and raw requests signed by botocore's own SigV4 signer
for the checks where boto3 hides the wire (exact status, headers, bodies, odd paths)."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import S3_NS, Answer, raw_exchange, send, signed_headers

from engine.client import client

__all__ = ["S3_NS", "Answer", "Failure", "Node", "error_of", "failure", "find",
           "lift_account_block", "text", "xml_of"]


def lift_account_block(grpc_endpoint: str) -> None:
    """Turn S3 Control's account-level Block Public Access off (a new account starts with
    it on, as in AWS), so each bucket's own settings decide what is public. S3 Control is
    served over gRPC only."""
    with client("sts", endpoint=grpc_endpoint) as sts, \
            client("s3control", endpoint=grpc_endpoint) as control:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])


@dataclass(frozen=True)
class Failure:
    """An S3 error as the client saw it."""

    status: int
    code: str
    message: str
    error: Mapping[str, str]
    headers: Mapping[str, str]


def failure(exc: pytest.ExceptionInfo[ClientError]) -> Failure:
    """The status, code, message, whole Error element and headers of a boto3 error."""
    response = exc.value.response
    error = response.get("Error", {})
    meta = response["ResponseMetadata"]
    return Failure(meta["HTTPStatusCode"], error.get("Code", ""), error.get("Message", ""),
                   error, meta.get("HTTPHeaders", {}))


def xml_of(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def error_of(answer: Answer) -> tuple[str, str]:
    """(Code, Message) of a raw answer's S3 error document."""
    doc = xml_of(answer.body)
    assert doc.tag == "Error", answer.body
    return doc.findtext("Code") or "", doc.findtext("Message") or ""


def find(doc: ET.Element, path: str) -> list[ET.Element]:
    """Elements under ``doc`` by an S3-namespaced path written without namespaces."""
    return doc.findall("/".join(S3_NS + part for part in path.split("/")))


def text(doc: ET.Element, path: str) -> str | None:
    found = find(doc, path)
    return found[0].text or "" if found else None


@dataclass(frozen=True)
class Node:
    """One node's S3 endpoint, reached with requests exactly as written."""

    url: str

    def request(self, method: str, target: str, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, *, sign: bool = True,
                payload_hash: str | None = None,
                unsigned_headers: Mapping[str, str] | None = None) -> Answer:
        """``method target`` (path and query as sent, already percent-encoded), signed
        by botocore for the body's SHA-256 (or ``payload_hash``) unless ``sign`` is
        false; ``unsigned_headers`` are added after signing."""
        out = dict(headers or {})
        if sign:
            digest = payload_hash or hashlib.sha256(body or b"").hexdigest()
            out = signed_headers(method, self.url + target, digest, out)
        out.update(unsigned_headers or {})
        return send(self.url, method, list(out.items()), body, path=target)

    def raw_head(self, target: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The bytes a signed HEAD gets back on the wire, up to the connection's close
        (http.client would hide a body sent after a HEAD's headers)."""
        out = signed_headers("HEAD", self.url + target, hashlib.sha256(b"").hexdigest(),
                             dict(headers or {}))
        lines = [f"HEAD {target} HTTP/1.1", *(f"{k}: {v}" for k, v in out.items()),
                 "Connection: close", "", ""]
        return raw_exchange(self.url, "\r\n".join(lines).encode(), timeout=10)
