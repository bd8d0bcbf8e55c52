"""SQS's query protocol requests: form parameters into queues.proto request messages.

A query request names its operation in ``Action`` and flattens lists and maps into
numbered parameters (``Attribute.1.Name``/``Attribute.1.Value``, ``AttributeName.1``,
``MessageAttribute.1.Value.DataType``, ``SendMessageBatchRequestEntry.1.Id``, ``Tag.1.Key``,
``TagKey.1``: shapes.query_name). The parameters are first gathered into a tree by
their dotted names (the query protocol's shared query_form.tree), so filling a message
costs one pass over the parameters whatever their number, then the tree is walked with
the proto descriptors, as convert.py walks a JSON document: the same messages, the same
required members, the same codes. Unknown parameters are ignored (as JSON members are);
a list or map entry must be numbered with a positive integer; every value is a string,
read as its field's type (integers in decimal, blobs base64, as botocore's query
serializer writes them).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from functools import cache
from typing import TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from engine.api.aws.query_form import Tree, tree
from engine.api.aws.sqs.convert import INT32, invalid, missing
from engine.api.aws.sqs.shapes import REQUIRED, map_key_name, members, query_members

M = TypeVar("M", bound=Message)
F = FieldDescriptor
_INT = re.compile(r"[+-]?[0-9]{1,12}")
_INDEX = re.compile(r"[1-9][0-9]{0,8}")


def to_proto(params: Mapping[str, str], cls: type[M]) -> M:
    """The request message of a query request's parameters."""
    message = cls()
    _fill(message, tree(params), "")
    return message


def _fill(message: Message, node: Tree, path: str) -> None:
    descriptor = message.DESCRIPTOR
    required = _required(descriptor)
    for name, field in query_members(descriptor).items():
        child = node.get(name)
        if field.name in required:
            _require(name, field, child, path)
        if child is None:
            continue
        where = path + name
        if field.is_repeated and field.message_type is not None \
                and field.message_type.GetOptions().map_entry:
            _fill_map(message, field, child, where)
        elif field.is_repeated:
            target = getattr(message, field.name)
            for index, item in _entries(child, where):
                if field.type == F.TYPE_MESSAGE:
                    _fill(target.add(), _structure(item), f"{where}.{index}.")
                elif isinstance(item, str):
                    target.append(_scalar(field, item, f"{where}.{index}"))
        elif field.type == F.TYPE_MESSAGE:
            _fill(getattr(message, field.name), _structure(child), where + ".")
        elif isinstance(child, str):
            setattr(message, field.name, _scalar(field, child, where))


@cache
def _required(descriptor: Descriptor) -> frozenset[str]:
    """The field names of a message's required members (shapes.REQUIRED)."""
    by_member = members(descriptor)
    return frozenset(by_member[m].name for m in REQUIRED.get(descriptor.name, ()))


def _require(name: str, field: FieldDescriptor, node: str | Tree | None, path: str) -> None:
    """MissingParameter when a required member is absent. A batch's entries are not
    checked here: none is an empty batch, which the queue service answers
    EmptyBatchRequest, as SQS does (botocore sends ``Entries=`` for an empty list)."""
    if field.is_repeated and field.message_type is not None \
            and not field.message_type.GetOptions().map_entry:
        return
    if field.is_repeated:
        if not isinstance(node, dict) or not node:
            first = f"{name}.1.{map_key_name(field)}" if field.message_type is not None \
                else f"{name}.1"
            raise missing(path + first)
    elif not isinstance(node, str):
        raise missing(path + name)


def _structure(node: str | Tree) -> Tree:
    return node if isinstance(node, dict) else {}


def _entries(node: str | Tree, where: str) -> list[tuple[int, str | Tree]]:
    """A flattened list's or map's entries, in the order of their numbers (``X=``, an
    empty list, has none)."""
    if not isinstance(node, dict):
        return []
    numbered = []
    for index, item in node.items():
        if not _INDEX.fullmatch(index):
            raise invalid(f"{where}.{index}", index,
                          "list and map entries are numbered from 1")
        numbered.append((int(index), item))
    return sorted(numbered, key=lambda pair: pair[0])


def _fill_map(message: Message, field: FieldDescriptor, node: str | Tree,
              where: str) -> None:
    target = getattr(message, field.name)
    value_field = field.message_type.fields_by_name["value"]
    key_name = map_key_name(field)
    for index, item in _entries(node, where):
        at = f"{where}.{index}."
        entry = _structure(item)
        key, value = entry.get(key_name), entry.get("Value")
        if not isinstance(key, str):
            raise missing(at + key_name)
        if value_field.type == F.TYPE_MESSAGE:
            if not isinstance(value, dict):
                raise missing(at + "Value.DataType")
            _fill(target[key], value, at + "Value.")
        elif isinstance(value, str):
            target[key] = _scalar(value_field, value, at + "Value")
        else:
            raise missing(at + "Value")


def _scalar(field: FieldDescriptor, value: str, where: str) -> object:
    kind = field.type
    if kind == F.TYPE_STRING:
        return value
    if kind == F.TYPE_INT32:
        if not _INT.fullmatch(value.strip()):
            raise invalid(where, value, "must be an integer")
        number = int(value)
        if not INT32[0] <= number <= INT32[1]:
            raise invalid(where, value, "out of range")
        return number
    if kind == F.TYPE_BOOL:
        if value.lower() not in ("true", "false"):
            raise invalid(where, value, "must be true or false")
        return value.lower() == "true"
    if kind == F.TYPE_BYTES:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(where, value, "must be base64-encoded") from None
    raise invalid(where, value, "is of a type this endpoint does not read")
