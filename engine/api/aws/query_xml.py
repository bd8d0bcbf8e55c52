"""The response side of AWS's query protocol: XML documents, as IAM and STS send them.

A result is ``<OpResponse xmlns=NS><OpResult>members</OpResult><ResponseMetadata>
<RequestId>..</RequestId></ResponseMetadata></OpResponse>`` (no ``OpResult`` when the
operation returns nothing); an error ``<ErrorResponse xmlns=NS><Error><Type>Sender</Type>
<Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>``.
Members are rendered from the result dict in boto3's shape: a dict is a structure (or a
map, ``<entry><key/><value/></entry>``, for the names in ``maps``), a list is
``<member>`` items (an empty one an empty element, which SDKs read as an empty list),
booleans are lowercase, None is left out. Indented two spaces a level, as AWS answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from engine.errors import MAX_MESSAGE_BYTES, EngineError, clip

XML_CONTENT_TYPE = "text/xml"
REQUEST_ID = "x-amzn-RequestId"
# What XML 1.0 cannot carry, even escaped: shown as U+FFFD rather than a document no
# client can parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPES = {"\r": "&#xD;"}
Transform = Callable[[str], str]


def text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value), _ESCAPES)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class _Writer:
    def __init__(self, maps: frozenset[str], transforms: Mapping[str, Transform]) -> None:
        self.lines: list[str] = []
        self.maps = maps
        self.transforms = transforms

    def element(self, name: str, value: Any, depth: int) -> None:
        pad = "  " * depth
        if value is None:
            return
        if isinstance(value, dict):
            self.structure(name, value, depth, is_map=name in self.maps)
        elif isinstance(value, list | tuple):
            if not value:
                self.lines.append(f"{pad}<{name}/>")
                return
            self.lines.append(f"{pad}<{name}>")
            for item in value:
                self.element("member", item, depth + 1)
            self.lines.append(f"{pad}</{name}>")
        else:
            wire = _scalar(value)
            transform = self.transforms.get(name)
            if transform is not None and isinstance(value, str):
                wire = transform(wire)
            self.lines.append(f"{pad}<{name}>{text(wire)}</{name}>")

    def structure(self, name: str, members: Mapping[str, Any], depth: int, *,
                  is_map: bool = False) -> None:
        pad = "  " * depth
        if not members:
            self.lines.append(f"{pad}<{name}/>")
            return
        self.lines.append(f"{pad}<{name}>")
        for key, value in members.items():
            if is_map:
                self.structure("entry", {"key": key, "value": value}, depth + 1)
            else:
                self.element(key, value, depth + 1)
        self.lines.append(f"{pad}</{name}>")


def result_document(action: str, namespace: str, result: Mapping[str, Any], request_id: str,
                    *, maps: frozenset[str] = frozenset(),
                    transforms: Mapping[str, Transform] | None = None,
                    wrapped: bool = False) -> bytes:
    """``<{action}Response>`` with ``result`` as its ``<{action}Result>``. ``transforms``:
    member name -> how its text goes on the wire (IAM percent-encodes policy documents).
    An empty result has no ``Result`` element unless ``wrapped`` (its operation has an
    output shape, which SDKs then look for)."""
    writer = _Writer(maps, transforms or {})
    writer.lines.append(f'<{action}Response xmlns="{text(namespace)}">')
    if result or wrapped:
        writer.structure(f"{action}Result", result, 1)
    writer.structure("ResponseMetadata", {"RequestId": request_id}, 1)
    writer.lines.append(f"</{action}Response>")
    return ("\n".join(writer.lines) + "\n").encode()


def error_document(namespace: str, err: EngineError, request_id: str) -> bytes:
    fault = "Receiver" if err.http_status >= 500 else "Sender"
    message = clip(err.message, MAX_MESSAGE_BYTES)
    return (f'<ErrorResponse xmlns="{text(namespace)}">\n'
            f"  <Error>\n"
            f"    <Type>{fault}</Type>\n"
            f"    <Code>{text(err.code)}</Code>\n"
            f"    <Message>{text(message)}</Message>\n"
            f"  </Error>\n"
            f"  <RequestId>{text(request_id)}</RequestId>\n"
            f"</ErrorResponse>\n").encode()


def xml_response(body: bytes, request_id: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type=XML_CONTENT_TYPE,
                        headers={REQUEST_ID: request_id})


def error_response(namespace: str, err: EngineError, request_id: str) -> web.Response:
    return xml_response(error_document(namespace, err, request_id), request_id,
                        err.http_status)
