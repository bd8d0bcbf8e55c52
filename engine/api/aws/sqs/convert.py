"""SQS's JSON documents to queues.proto messages and back.

Walks the proto descriptors, so a field added to queues.proto is served without code
here. A request member of the wrong JSON type is InvalidParameterValue naming it, a
missing required one MissingParameter (shapes.REQUIRED), as SQS answers; unknown members
are ignored, as AWS's JSON services ignore them. Blobs travel base64-encoded, as the
JSON protocol has them. A response omits empty members (AWS leaves out what a call did
not set: no MD5OfMessageAttributes without attributes, no Messages when none came),
except the lists the model says are always there (shapes.ALWAYS).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from engine.api.aws.sqs.shapes import ALWAYS, REQUIRED, member_name, members
from engine.errors import EngineError

M = TypeVar("M", bound=Message)
F = FieldDescriptor
INT32 = (-(2**31), 2**31 - 1)
_KINDS = {F.TYPE_STRING: "a string", F.TYPE_BYTES: "a base64-encoded blob",
          F.TYPE_INT32: "an integer", F.TYPE_BOOL: "a boolean", F.TYPE_MESSAGE: "an object"}


def invalid(name: str, value: object, reason: str) -> EngineError:
    shown = str(value)
    if len(shown) > 100:
        shown = shown[:100] + "..."
    return EngineError("InvalidParameterValue",
                       f"Value {shown} for parameter {name} is invalid. Reason: {reason}.")


def missing(name: str) -> EngineError:
    return EngineError("MissingParameter", f"The request must contain the parameter {name}.")


def to_proto(document: dict[str, Any], cls: type[M]) -> M:
    """The request message of a JSON request body (already an object)."""
    message = cls()
    _fill(message, document, "")
    return message


def _fill(message: Message, document: dict[str, Any], path: str) -> None:
    descriptor = message.DESCRIPTOR
    for name in REQUIRED.get(descriptor.name, ()):
        if document.get(name) is None:
            raise missing(path + name)
    fields = members(descriptor)
    for name, value in document.items():
        field = fields.get(name)
        if field is None or value is None:
            continue
        where = path + name
        if field.is_repeated and field.message_type is not None \
                and field.message_type.GetOptions().map_entry:
            _fill_map(message, field, value, where)
        elif field.is_repeated:
            if not isinstance(value, list):
                raise invalid(where, value, "must be a list")
            target = getattr(message, field.name)
            for i, item in enumerate(value):
                if field.type == F.TYPE_MESSAGE:
                    _fill(target.add(), _object(item, f"{where}.{i + 1}"), f"{where}.{i + 1}.")
                else:
                    target.append(_scalar(field, item, f"{where}.{i + 1}"))
        elif field.type == F.TYPE_MESSAGE:
            _fill(getattr(message, field.name), _object(value, where), where + ".")
        else:
            setattr(message, field.name, _scalar(field, value, where))


def _fill_map(message: Message, field: FieldDescriptor, value: object, where: str) -> None:
    entries = _object(value, where)
    target = getattr(message, field.name)
    value_field = field.message_type.fields_by_name["value"]
    for key, item in entries.items():
        if value_field.type == F.TYPE_MESSAGE:
            _fill(target[key], _object(item, f"{where}.{key}"), f"{where}.{key}.")
        else:
            target[key] = _scalar(value_field, item, f"{where}.{key}")


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, value, "must be an object")
    return value


def _scalar(field: FieldDescriptor, value: object, where: str) -> Any:
    kind = field.type
    if kind == F.TYPE_STRING and isinstance(value, str):
        return value
    if kind == F.TYPE_BOOL and isinstance(value, bool):
        return value
    if kind == F.TYPE_INT32 and isinstance(value, int) and not isinstance(value, bool):
        if not INT32[0] <= value <= INT32[1]:
            raise invalid(where, value, "out of range")
        return value
    if kind == F.TYPE_BYTES and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(where, value, "must be base64-encoded") from None
    raise invalid(where, value, f"must be {_KINDS.get(kind, 'another type')}")


def to_json(message: Message) -> dict[str, Any]:
    """The JSON document of a response message."""
    out: dict[str, Any] = {}
    descriptor = message.DESCRIPTOR
    always = ALWAYS.get(descriptor.name, frozenset())
    for field in descriptor.fields:
        name = member_name(descriptor.name, field.name)
        value = getattr(message, field.name)
        if field.is_repeated and field.message_type is not None \
                and field.message_type.GetOptions().map_entry:
            if value:
                value_field = field.message_type.fields_by_name["value"]
                out[name] = {k: _out(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            if value or field.name in always:
                out[name] = [_out(field, v) for v in value]
        elif field.type == F.TYPE_BOOL:
            out[name] = value
        elif field.has_presence:
            if message.HasField(field.name):
                out[name] = _out(field, value)
        elif value:
            out[name] = _out(field, value)
    return out


def _out(field: FieldDescriptor, value: Any) -> Any:
    if field.type == F.TYPE_MESSAGE:
        return to_json(value)
    if field.type == F.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value
