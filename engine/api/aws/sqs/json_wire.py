"""SQS's JSON protocol, the one current SDKs send: ``X-Amz-Target: AmazonSQS.<Operation>``
names the operation, the body is a JSON object of its members (convert.py), and the
answer is JSON of the same type; errors carry ``__type`` and ``x-amzn-query-error``
(errors.py). Only the parse and the render: endpoint.py runs the call."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from engine.api.aws.sqs.convert import to_json, to_proto
from engine.api.aws.sqs.errors import JSON_CONTENT_TYPE, REQUEST_ID, error_response
from engine.api.aws.sqs.operations import SqsOperation, operation_of
from engine.errors import EngineError

# The largest message a queue takes (MaximumMessageSize up to 1 MiB, as SQS since 2025),
# JSON-escaped at worst twice as long, plus the envelope. Message and batch sizes are the
# queue service's to refuse, with SQS's codes; this only bounds what is buffered.
MAX_JSON_BYTES = 2 * 1_048_576 + 64 * 1024


class JsonWire:
    protocol = "JSON"
    max_body = MAX_JSON_BYTES

    def __init__(self, request: web.Request, body: bytes, scheme: str) -> None:
        self.target = request.headers.get("x-amz-target")
        self.body = body

    def operation(self) -> SqsOperation:
        return operation_of(self.target)

    def message(self, operation: SqsOperation) -> Message:
        return to_proto(_document(self.body), operation.request)

    def answer(self, operation: SqsOperation, response: Message, rid: str) -> web.Response:
        return web.Response(body=json.dumps(to_json(response), separators=(",", ":")).encode(),
                            content_type=JSON_CONTENT_TYPE, headers={REQUEST_ID: rid})

    @staticmethod
    def error(err: EngineError, rid: str) -> web.Response:
        return error_response(err, rid)


def _document(body: bytes) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty one, as SDKs send ``{}``)."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise EngineError("SerializationException", "The request body is not valid JSON.",
                          http_status=400) from None
    if not isinstance(document, dict):
        raise EngineError("SerializationException", "The request body must be a JSON "
                          "object.", http_status=400)
    return document
