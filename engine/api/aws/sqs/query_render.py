"""SQS's query protocol answers: queues.proto response messages as SQS's XML.

``<SendMessageResponse xmlns=NS><SendMessageResult>..</SendMessageResult>
<ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></SendMessageResponse>``;
an operation that returns nothing (DeleteMessage, TagQueue, ...) has no ``Result``
element. SQS's model flattens every list and map, so a list is its elements repeated
under the element's name (``<Message>``, ``<QueueUrl>``, ``<BatchResultErrorEntry>``) and
a map entry is ``<Attribute><Name/><Value/></Attribute>`` (``<Tag><Key/><Value/></Tag>``,
``<MessageAttribute><Name/><Value><StringValue/><DataType/></Value></MessageAttribute>``):
shapes.query_name. As in the JSON protocol, members a call did not set are left out;
blobs are base64. Errors are ``<ErrorResponse>`` with Type (Sender, or Receiver for a
5xx), Code (the query code, errors.py's table is the JSON side's), Message and an empty
Detail, as SQS sends them. Text is escaped by the query protocol's shared writer
(engine/api/aws/query_xml.py), which keeps a message body's CR.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from engine.api.aws.query_xml import text
from engine.api.aws.sqs.shapes import map_key_name, query_name
from engine.errors import MAX_MESSAGE_BYTES, EngineError, clip

VERSION = "2012-11-05"  # the only SQS API version there is
NAMESPACE = f"http://queue.amazonaws.com/doc/{VERSION}/"
F = FieldDescriptor
# message name -> its members' order where SQS's model orders them unlike queues.proto
_ORDER: dict[str, tuple[str, ...]] = {
    "SendMessageResponse": ("md5_of_message_body", "md5_of_message_attributes",
                            "md5_of_message_system_attributes", "message_id",
                            "sequence_number"),
    "MessageAttributeValue": ("string_value", "binary_value", "data_type"),
}


def result_document(action: str, message: Message, request_id: str) -> bytes:
    """The answer to ``action`` whose result is ``message``."""
    lines = [f'<{action}Response xmlns="{NAMESPACE}">']
    if message.DESCRIPTOR.fields:
        lines.append(f"  <{action}Result>")
        _members(lines, message, 2)
        lines.append(f"  </{action}Result>")
    lines += ["  <ResponseMetadata>", f"    <RequestId>{text(request_id)}</RequestId>",
              "  </ResponseMetadata>", f"</{action}Response>"]
    return ("\n".join(lines) + "\n").encode()


def error_document(err: EngineError, request_id: str) -> bytes:
    fault = "Receiver" if err.http_status >= 500 else "Sender"
    return (f'<ErrorResponse xmlns="{NAMESPACE}">\n'
            f"  <Error>\n"
            f"    <Type>{fault}</Type>\n"
            f"    <Code>{text(err.code)}</Code>\n"
            f"    <Message>{text(clip(err.message, MAX_MESSAGE_BYTES))}</Message>\n"
            f"    <Detail/>\n"
            f"  </Error>\n"
            f"  <RequestId>{text(request_id)}</RequestId>\n"
            f"</ErrorResponse>\n").encode()


def _fields(message: Message) -> list[FieldDescriptor]:
    descriptor = message.DESCRIPTOR
    order = _ORDER.get(descriptor.name)
    if order is None:
        return list(descriptor.fields)
    return [descriptor.fields_by_name[name] for name in order]


def _members(lines: list[str], message: Message, depth: int) -> None:
    pad = "  " * depth
    descriptor = message.DESCRIPTOR
    for field in _fields(message):
        name = query_name(descriptor, field)
        value = getattr(message, field.name)
        if field.is_repeated and field.message_type is not None \
                and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            key_name = map_key_name(field)
            for key in sorted(value):
                lines.append(f"{pad}<{name}>")
                lines.append(f"{pad}  <{key_name}>{text(key)}</{key_name}>")
                _element(lines, "Value", value_field, value[key], depth + 1)
                lines.append(f"{pad}</{name}>")
        elif field.is_repeated:
            for item in value:
                _element(lines, name, field, item, depth)
        elif field.type == F.TYPE_BOOL:
            _element(lines, name, field, value, depth)
        elif field.has_presence:
            if message.HasField(field.name):
                _element(lines, name, field, value, depth)
        elif value:
            _element(lines, name, field, value, depth)


def _element(lines: list[str], name: str, field: FieldDescriptor, value: Any,
             depth: int) -> None:
    pad = "  " * depth
    if field.type == F.TYPE_MESSAGE:
        lines.append(f"{pad}<{name}>")
        _members(lines, value, depth + 1)
        lines.append(f"{pad}</{name}>")
        return
    if field.type == F.TYPE_BYTES:
        shown = base64.b64encode(value).decode()
    elif field.type == F.TYPE_BOOL:
        shown = "true" if value else "false"
    else:
        shown = str(value)
    lines.append(f"{pad}<{name}>{text(shown)}</{name}>")
