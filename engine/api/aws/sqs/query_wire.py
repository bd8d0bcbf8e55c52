"""SQS's query protocol, which aws-cli v1 with older botocore, older SDKs and many
frameworks' transports send: ``Action=SendMessage&Version=2012-11-05&QueueUrl=...`` as a
form-encoded POST body (or a GET's query string; a POST's URL query counts too), to ``/``
or to the queue's URL, answered in XML. Only the parse (query_parse.py) and the render
(query_render.py): endpoint.py runs the call as it runs a JSON one.

A request to the queue's URL (``POST /<account>/<queue>``) without a QueueUrl parameter
is about that queue, as SQS reads it. ``Version`` is not checked: 2012-11-05 is the only
SQS API there is.
"""

from __future__ import annotations

from aiohttp import web
from google.protobuf.message import Message

from engine.api.aws.query_form import fields
from engine.api.aws.query_xml import xml_response
from engine.api.aws.sqs.operations import SqsOperation, operation_named
from engine.api.aws.sqs.query_parse import to_proto
from engine.api.aws.sqs.query_render import error_document, result_document
from engine.errors import EngineError

FORM_TYPE = "application/x-www-form-urlencoded"
# The largest message a queue takes (1 MiB) with every byte percent-escaped (three
# times as long, as botocore escapes all but letters, digits and "-_.~"), plus the rest.
MAX_QUERY_BYTES = 3 * 1_048_576 + 64 * 1024


class QueryWire:
    protocol = "Query"
    max_body = MAX_QUERY_BYTES

    def __init__(self, request: web.Request, body: bytes, scheme: str) -> None:
        raw_path, _, raw_query = request.raw_path.partition("?")
        params = fields(raw_query) if raw_query else {}
        if body and request.content_type == FORM_TYPE:
            params.update(fields(body))
        if raw_path.strip("/") and "QueueUrl" not in params:
            params["QueueUrl"] = f"{scheme}://{request.host}{raw_path}"
        self.params = params

    def operation(self) -> SqsOperation:
        action = self.params.get("Action")
        if not action:
            raise EngineError("MissingAction", "The request must contain the parameter "
                              "Action.", http_status=400)
        return operation_named(action)

    def message(self, operation: SqsOperation) -> Message:
        return to_proto(self.params, operation.request)

    def answer(self, operation: SqsOperation, response: Message, rid: str) -> web.Response:
        return xml_response(result_document(operation.name, response, rid), rid)

    @staticmethod
    def error(err: EngineError, rid: str) -> web.Response:
        return xml_response(error_document(err, rid), rid, err.http_status)
