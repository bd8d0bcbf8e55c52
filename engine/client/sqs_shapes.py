"""Parameter checks for the SQS client, as botocore makes them from SQS's service model.

boto3 methods take ``**kwargs``: a missing required parameter, an unknown one or a value
of the wrong type is a ParamValidationError listing every problem, raised before
anything is sent. The methods here keep real keyword signatures (for editors and type
checkers); :func:`operation` checks the call against that signature first.

Structures and lists are checked by :mod:`engine.client.shapes`; this module adds what
SQS needs beyond it: maps (attributes, tags, message attributes) and blobs (BinaryValue).
Value ranges are not checked here: the server answers them with SQS's codes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from engine.client.errors import ParamValidationError
from engine.client.shapes import _HEADER, Anything, ListOf, Shape, Struct, validate

# A check appends botocore-worded problems of ``value`` (named ``name``) to the list.
Check = Callable[[Any, str, list[str]], None]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def _collect(problems: list[str], value: Any, shape: Shape, name: str) -> None:
    try:
        validate(value, shape, name)
    except ParamValidationError as exc:
        problems.extend(str(exc).splitlines()[1:])


def of(shape: Shape) -> Check:
    """A check for a shape engine.client.shapes knows."""
    return lambda value, name, problems: _collect(problems, value, shape, name)


def map_of(check_value: Check) -> Check:
    """A map with string keys; values are named ``map.key`` as botocore names them."""

    def check(value: Any, name: str, problems: list[str]) -> None:
        if not isinstance(value, Mapping):
            _collect(problems, value, Struct(), name)  # the "valid types: dict" message
            return
        for key, item in value.items():
            _collect(problems, key, str, name)
            check_value(item, f"{name}.{key}", problems)

    return check


def blob(value: Any, name: str, problems: list[str]) -> None:
    """botocore's blob: bytes, bytearray, str (sent as UTF-8) or a readable file."""
    if isinstance(value, bytes | bytearray | memoryview | str) or hasattr(value, "read"):
        return
    problems.append(
        f"Invalid type for parameter {name}, value: {value}, type: {type(value)}, "
        "valid types: <class 'bytes'>, <class 'bytearray'>, file-like object"
    )


# MessageAttributeValue and MessageSystemAttributeValue have the same members. The list
# members are "reserved for future use" in SQS: accepted, as botocore does, and not sent.
_ATTRIBUTE_VALUE = Struct(
    {
        "StringValue": str,
        "BinaryValue": Anything,  # checked by blob()
        "StringListValues": ListOf(str),
        "BinaryListValues": Anything,
        "DataType": str,
    },
    required=("DataType",),
)


def _attribute_value(value: Any, name: str, problems: list[str]) -> None:
    _collect(problems, value, _ATTRIBUTE_VALUE, name)
    if isinstance(value, Mapping) and "BinaryValue" in value:
        blob(value["BinaryValue"], f"{name}.BinaryValue", problems)


MESSAGE_ATTRIBUTES = map_of(_attribute_value)
STRING_MAP = map_of(of(str))
_ATTRIBUTE_MAPS = ("MessageAttributes", "MessageSystemAttributes")


def entries(entry: Struct) -> Check:
    """A batch's Entries; message attribute maps inside an entry get their own check."""

    def check(value: Any, name: str, problems: list[str]) -> None:
        _collect(problems, value, ListOf(entry), name)
        if not isinstance(value, list | tuple):
            return
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                for key in _ATTRIBUTE_MAPS:
                    if key in item:
                        MESSAGE_ATTRIBUTES(item[key], f"{name}[{i}].{key}", problems)

    return check


SEND_ENTRIES = entries(Struct(
    {
        "Id": str,
        "MessageBody": str,
        "DelaySeconds": int,
        "MessageAttributes": Anything,
        "MessageSystemAttributes": Anything,
        "MessageDeduplicationId": str,
        "MessageGroupId": str,
    },
    required=("Id", "MessageBody"),
))
DELETE_ENTRIES = entries(Struct({"Id": str, "ReceiptHandle": str},
                                required=("Id", "ReceiptHandle")))
VISIBILITY_ENTRIES = entries(Struct({"Id": str, "ReceiptHandle": str, "VisibilityTimeout": int},
                                    required=("Id", "ReceiptHandle")))

_STR, _INT, _STRINGS = of(str), of(int), of(ListOf(str))

# Every top-level parameter of the SQS operations, by name (the same name has the same
# shape in every operation, except Entries, which each batch operation declares).
MEMBERS: dict[str, Check] = {
    "QueueName": _STR,
    "QueueUrl": _STR,
    "QueueNamePrefix": _STR,
    "QueueOwnerAWSAccountId": _STR,
    "NextToken": _STR,
    "MaxResults": _INT,
    "Attributes": STRING_MAP,
    "AttributeNames": _STRINGS,
    "tags": STRING_MAP,
    "Tags": STRING_MAP,
    "TagKeys": _STRINGS,
    "MessageBody": _STR,
    "DelaySeconds": _INT,
    "MessageAttributes": MESSAGE_ATTRIBUTES,
    "MessageSystemAttributes": MESSAGE_ATTRIBUTES,
    "MessageDeduplicationId": _STR,
    "MessageGroupId": _STR,
    "MessageSystemAttributeNames": _STRINGS,
    "MessageAttributeNames": _STRINGS,
    "MaxNumberOfMessages": _INT,
    "VisibilityTimeout": _INT,
    "WaitTimeSeconds": _INT,
    "ReceiveRequestAttemptId": _STR,
    "ReceiptHandle": _STR,
    "Label": _STR,
    "AWSAccountIds": _STRINGS,
    "Actions": _STRINGS,
    "SourceArn": _STR,
    "DestinationArn": _STR,
    "MaxNumberOfMessagesPerSecond": _INT,
    "TaskHandle": _STR,
}


def validate_input(
    params: Mapping[str, Any], members: Mapping[str, Check], required: tuple[str, ...]
) -> None:
    """Raise one ParamValidationError naming every problem of a call's parameters.

    Missing and unknown parameters are reported against "input"; members by their bare
    names (``DelaySeconds``, ``Entries[0].Id``), as botocore words them.
    """
    problems: list[str] = []
    _collect(problems, params, Struct(dict.fromkeys(members, Anything), required), "input")
    for name, value in params.items():
        if name in members:
            members[name](value, name, problems)
    if problems:
        raise ParamValidationError(_HEADER + "\n".join(problems))


def operation(
    **overrides: Check,
) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Check a method's keyword arguments against its own signature before it runs.

    The parameters are the method's keyword-only ones; those without a default are
    required. Shapes come from :data:`MEMBERS`, or ``overrides`` (batch Entries).
    """

    def decorate(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY]
        members = {p.name: overrides.get(p.name) or MEMBERS[p.name] for p in params}
        required = tuple(p.name for p in params if p.default is inspect.Parameter.empty)

        @functools.wraps(fn)
        def method(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
            if args:
                raise TypeError(f"{fn.__name__}() only accepts keyword arguments.")
            validate_input(kwargs, members, required)
            return fn(self, *args, **kwargs)

        return method

    return decorate
