"""The website endpoint's error pages: HTML as S3's website endpoints write them.

A failure lists its Code, Message and details (Key, BucketName, Method...), then the
RequestId and HostId; when the bucket's custom error document could not be served
either, its own failure follows under "An Error Occurred While Attempting to Retrieve a
Custom Error Document". The code and message also travel in x-amz-error-code and
x-amz-error-message, as S3 sends them, also on a custom error document.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from http import HTTPStatus

from engine.errors import EngineError

CONTENT_TYPE = "text/html; charset=utf-8"
DOCUMENT_FAILED = "An Error Occurred While Attempting to Retrieve a Custom Error Document"


@dataclass(frozen=True)
class Failure:
    status: int
    code: str
    message: str
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, err: EngineError, key: str = "") -> Failure:
        """``err`` as a website shows it; a missing key names the key asked for."""
        details = [(name, value) for name, value in err.details.items()
                   if name in ("BucketName", "Method", "ResourceType")]
        if err.code == "NoSuchKey" and key:
            details.insert(0, ("Key", key))
        return cls(err.http_status, err.code, err.message, tuple(details))

    def headers(self) -> dict[str, str]:
        """x-amz-error-code and x-amz-error-message (ASCII only, as header values)."""
        return {"x-amz-error-code": self.code,
                "x-amz-error-message": self.message.encode("ascii", "replace").decode()}

    def items(self) -> list[str]:
        lines = [("Code", self.code), ("Message", self.message), *self.details]
        return [f"<li>{name}: {html.escape(value)}</li>" for name, value in lines]


def title(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def page(failure: Failure, request_id: str, host_id: str,
         document: Failure | None = None) -> bytes:
    """The HTML page of ``failure``; ``document``: why the custom error document could
    not be served."""
    heading = title(failure.status)
    lines = ["<html>", f"<head><title>{heading}</title></head>", "<body>",
             f"<h1>{heading}</h1>", "<ul>", *failure.items(),
             f"<li>RequestId: {html.escape(request_id)}</li>",
             f"<li>HostId: {html.escape(host_id)}</li>", "</ul>"]
    if document is not None:
        lines += [f"<h3>{DOCUMENT_FAILED}</h3>", "<ul>", *document.items(), "</ul>"]
    lines += ["<hr/>", "</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")
