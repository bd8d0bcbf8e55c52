"""botocore as the reference S3 client for the XML codecs, without a network.

``sent`` captures the request botocore would send (its serializer for the rest-xml
protocol builds the body and query string); ``answer`` runs a whole client call against
a canned response, so botocore's parser and its customisations (encoding-type decoding)
read what the codecs wrote, as boto3 would over the wire.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config


class _Sent(Exception):
    """Raised from before-send to stop botocore once it has built the request."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@functools.cache
def client() -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG",
        config=Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}))


def query_of(request: AWSPreparedRequest) -> dict[str, str]:
    """The request's query string as the REST layer sees it (first value of each name)."""
    out: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
        out.setdefault(name, value)
    return out


def sent(method: str, **params: Any) -> AWSPreparedRequest:
    """The request ``client().<method>(**params)`` would send."""
    s3 = client()

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise _Sent(request)

    s3.meta.events.register_first("before-send.s3", capture)
    try:
        getattr(s3, method)(**params)
    except _Sent as caught:
        return caught.request
    finally:
        s3.meta.events.unregister("before-send.s3", capture)
    raise AssertionError("botocore sent nothing")


def sent_body(method: str, **params: Any) -> bytes:
    body = sent(method, **params).body
    return body if isinstance(body, bytes) else (body or "").encode()


def answer(method: str, respond: Callable[[AWSPreparedRequest], bytes], *, status: int = 200,
           **params: Any) -> dict[str, Any]:
    """What botocore returns for ``method`` when the server answers ``respond(request)``."""
    s3 = client()

    def reply(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, {"content-type": "application/xml"},
                           _Raw(respond(request)))

    s3.meta.events.register_first("before-send.s3", reply)
    try:
        result: dict[str, Any] = getattr(s3, method)(**params)
    finally:
        s3.meta.events.unregister("before-send.s3", reply)
    result.pop("ResponseMetadata", None)
    return result


def tree(document: bytes | str) -> tuple[Any, ...]:
    """A document as a comparable tree: namespaces dropped, text stripped, and each
    element's children grouped by name with repeated elements in their order. AWS's
    examples and S3 itself list a record's fields in different orders; parsers ignore it."""
    data = document.encode() if isinstance(document, str) else document
    return _tree(ET.fromstring(data))


def _tree(element: ET.Element) -> tuple[Any, ...]:
    tag = element.tag.rsplit("}", 1)[-1]
    attributes = tuple(sorted((k.rsplit("}", 1)[-1], v) for k, v in element.attrib.items()))
    children = sorted((_tree(child) for child in element), key=lambda t: t[0])
    return (tag, attributes, (element.text or "").strip(), tuple(children))


def sequence(document: bytes) -> list[str]:
    """The root's children names in order (where S3's order is the point)."""
    return [child.tag.rsplit("}", 1)[-1] for child in ET.fromstring(document)]
