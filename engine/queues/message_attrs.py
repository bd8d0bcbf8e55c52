"""SQS message bodies and message attributes: what is allowed, what counts toward the size
limit, the MD5 digests SDKs verify, and ReceiveMessage's attribute-name filters."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from engine.errors import EngineError
from engine.v1 import queues_pb2

MAX_ATTRIBUTES = 10
MAX_NAME_LENGTH = 256
MAX_TYPE_LENGTH = 256
MAX_NUMBER_DIGITS = 38
NUMBER_MAX = Decimal("1e126")  # |value| <= 10^126 ...
NUMBER_MIN = Decimal("1e-128")  # ... and >= 10^-128 unless it is zero
BASE_TYPES = ("String", "Number", "Binary")
SYSTEM_ATTRIBUTES = frozenset({"AWSTraceHeader"})
_TRANSPORT = {"String": 1, "Number": 1, "Binary": 2}

# XML 1.0's characters, which is what SQS accepts in bodies and String values.
_INVALID_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_RESERVED_PREFIXES = ("aws.", "amazon.")

INVALID_CHARACTERS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
    "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
)

Attributes = Mapping[str, queues_pb2.MessageAttributeValue]


def _invalid(message: str, **details: str) -> EngineError:
    return EngineError("InvalidParameterValue", message, **details)


def validate_body(body: str) -> None:
    """A body is required and limited to the XML character set."""
    if not body:
        raise EngineError("MissingParameter", "The request must contain the parameter MessageBody.")
    if _INVALID_CHAR.search(body):
        raise EngineError("InvalidMessageContents", INVALID_CHARACTERS)


def _check_name(name: str) -> None:
    if not name:
        raise _invalid("The request must contain non-empty message attribute name.")
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid(
            f"Message (user) attribute name {name} is too long; it can be at most "
            f"{MAX_NAME_LENGTH} characters.", AttributeName=name,
        )
    if not _NAME_CHARS.fullmatch(name):
        # AWS's wording, trailing space included.
        raise _invalid(
            "Message (user) attributes name can only contain upper and lower score "
            "characters, digits, periods, hyphens and underscores. ", AttributeName=name,
        )
    if name.lower().startswith(_RESERVED_PREFIXES) or name[0] == "." or name[-1] == ".":
        raise _invalid(
            "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These "
            "strings are reserved for internal use. Additionally, they cannot start or end "
            "with '.'.", AttributeName=name,
        )
    if ".." in name:
        raise _invalid(
            f"Message (user) attribute name {name} can not have successive '.' characters.",
            AttributeName=name,
        )


def base_type(data_type: str) -> str | None:
    """"String", "Number" or "Binary" for a valid DataType ("Number.float" included)."""
    base, dot, label = data_type.partition(".")
    if base not in BASE_TYPES or (dot and not label):
        return None
    return base


def _number_in_range(text: str) -> bool:
    """SQS numbers: up to 38 significant digits, magnitude 0 or 10^-128 to 10^+126."""
    value = Decimal(text)
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")
    if len(digits) > MAX_NUMBER_DIGITS:
        return False
    return value.is_zero() or NUMBER_MIN <= value.copy_abs() <= NUMBER_MAX


def _check_value(name: str, value: queues_pb2.MessageAttributeValue) -> None:
    data_type = value.data_type
    if not data_type:
        raise _invalid(
            f"The message attribute '{name}' must contain non-empty message attribute type.",
            AttributeName=name,
        )
    if len(data_type) > MAX_TYPE_LENGTH:
        raise _invalid(
            f"Message (user) attribute '{name}' type can be at most {MAX_TYPE_LENGTH} "
            "characters.", AttributeName=name,
        )
    base = base_type(data_type)
    if base is None or _INVALID_CHAR.search(data_type):
        raise _invalid(
            f"The type of message (user) attribute '{name}' is invalid. You must use only "
            "the following supported type prefixes: Binary, Number, String.",
            AttributeName=name,
        )
    if base == "Binary":
        if value.HasField("string_value"):
            raise _invalid(
                f"The message attribute '{name}' with type 'Binary' must use field 'Binary'.",
                AttributeName=name,
            )
        if not value.binary_value:
            raise _invalid(
                f"Message (user) attribute '{name}' must contain a non-empty value of type "
                "'Binary'.", AttributeName=name,
            )
        return
    if value.HasField("binary_value"):
        raise _invalid(
            f"The message attribute '{name}' with type '{base}' must use field 'String'.",
            AttributeName=name,
        )
    text = value.string_value
    if not text:
        raise _invalid(
            f"Message (user) attribute '{name}' must contain a non-empty value of type "
            f"'{base}'.", AttributeName=name,
        )
    if base == "Number":
        if not _NUMBER.fullmatch(text):
            raise _invalid(
                f"Can't cast the value of message (user) attribute '{name}' to a number.",
                AttributeName=name,
            )
        if not _number_in_range(text):
            raise _invalid(
                f"Value {text} for parameter {name} is invalid. Reason: Number should have at "
                f"most {MAX_NUMBER_DIGITS} significant digits and be in range "
                "(-10**126..10**126), with a magnitude of at least 10**-128.",
                AttributeName=name,
            )
    elif _INVALID_CHAR.search(text):
        raise _invalid(f"Message (user) attribute '{name}': {INVALID_CHARACTERS}",
                       AttributeName=name)


def validate_message_attributes(attrs: Attributes) -> None:
    """At most 10 attributes with valid names, types and values; attributes are checked in
    name order so that a request breaking two rules always reports the same one."""
    if len(attrs) > MAX_ATTRIBUTES:
        raise _invalid(
            f"Number of message attributes [{len(attrs)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    for name in sorted(attrs):
        _check_name(name)
        _check_value(name, attrs[name])


def validate_system_attributes(attrs: Attributes) -> None:
    """SendMessage accepts one system attribute, the X-Ray header AWSTraceHeader (a
    String)."""
    for name in sorted(attrs):
        if name not in SYSTEM_ATTRIBUTES:
            raise _invalid(
                f"Message system attribute name '{name}' is invalid.", AttributeName=name
            )
        value = attrs[name]
        if value.data_type != "String" or value.HasField("binary_value"):
            raise _invalid(
                f"Message system attribute '{name}' must be of type 'String'.",
                AttributeName=name,
            )
        if not value.string_value:
            raise _invalid(
                f"Message system attribute '{name}' must contain a non-empty value of type "
                "'String'.", AttributeName=name,
            )
        if _INVALID_CHAR.search(value.string_value):
            raise _invalid(f"Message system attribute '{name}': {INVALID_CHARACTERS}",
                           AttributeName=name)


def _value_bytes(value: queues_pb2.MessageAttributeValue) -> bytes:
    if base_type(value.data_type) == "Binary":
        return value.binary_value
    return value.string_value.encode()


def message_size(body: str, attrs: Attributes) -> int:
    """Bytes counted against MaximumMessageSize: the UTF-8 body plus, per attribute, its
    name, data type and value ("all components of a message attribute are included")."""
    size = len(body.encode())
    for name, value in attrs.items():
        size += len(name.encode()) + len(value.data_type.encode()) + len(_value_bytes(value))
    return size


def check_message_size(body: str, attrs: Attributes, limit: int) -> None:
    """SendMessage's size check, with SQS's code and wording."""
    if message_size(body, attrs) > limit:
        raise _invalid(
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def md5_of_attributes(attrs: Attributes) -> str:
    """SQS's MD5OfMessageAttributes (also used for system attributes); "" for none.

    Per attribute, in name order: length-prefixed UTF-8 name, length-prefixed UTF-8 data
    type, one transport byte (1 String/Number, 2 Binary), length-prefixed value bytes;
    lengths are 4-byte big-endian.
    """
    if not attrs:
        return ""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attrs):
        value = attrs[name]
        base = base_type(value.data_type) or value.data_type.partition(".")[0]
        digest.update(_length_prefixed(name.encode()))
        digest.update(_length_prefixed(value.data_type.encode()))
        digest.update(bytes([_TRANSPORT.get(base, 1)]))
        digest.update(_length_prefixed(_value_bytes(value)))
    return digest.hexdigest()


def select_attributes(attrs: Attributes, requested_names: Iterable[str]) -> dict[
    str, queues_pb2.MessageAttributeValue
]:
    """The attributes ReceiveMessage returns for MessageAttributeNames: "All", ".*" and
    "*" select every one, "prefix.*" those whose name starts with "prefix", anything else
    an exact name. Names that match nothing are ignored, as SQS ignores them."""
    requested = list(requested_names)
    if any(n in ("All", ".*", "*") for n in requested):
        return dict(attrs)
    exact = {n for n in requested if not n.endswith(".*")}
    prefixes = tuple(n[:-2] for n in requested if n.endswith(".*"))
    return {
        name: value for name, value in attrs.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }
