"""The request side of AWS's query protocol: a form of flattened names, back to members.

Query-protocol SDKs (IAM, STS, SQS's older clients) POST ``application/x-www-form-urlencoded``
bodies (``Action=CreateUser&Version=2010-05-08&UserName=alice``) in which a structure's
members are dotted (``PolicyArns.member.1.arn``), a list is ``<Name>.member.<N>`` (N from
1), a map ``<Name>.entry.<N>.key`` / ``.value``, and an empty list is ``<Name>=`` with no
value. The wire carries text only: which members are integers, booleans, lists or
structures is the service's model, given here as :class:`FormModel`. Flattened lists
(``Attribute.1.Name``, SQS) are the caller's to regroup from :func:`tree`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from engine.api.s3.body import CONTINUE, expects_continue
from engine.errors import EngineError

FORM_TYPE = "application/x-www-form-urlencoded"
BODY_SECONDS = 60.0  # to receive a small form; a stalled client is cut
_READ = 64 * 1024
_LIST, _MAP = "member", "entry"
_MAX_INDEX = 100_000  # a list index past this is no list a client sends
_MAX_DEPTH = 12  # dotted parts of a name: IAM's deepest has 5
_INDEX = re.compile(r"[0-9]{1,6}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")
Tree = dict[str, Any]  # name -> text, or the names below it


@dataclass(frozen=True)
class FormModel:
    """The members of a service's inputs that are not strings, by member name (one name
    means one type across the service's operations, as in IAM's and STS's models)."""

    integers: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()  # of strings
    structure_lists: frozenset[str] = frozenset()
    structures: frozenset[str] = frozenset()
    maps: frozenset[str] = frozenset()  # of strings to strings


def malformed(message: str) -> EngineError:
    """A form the query protocol cannot mean (AWS's common error for it)."""
    return EngineError("MalformedQueryString", message, http_status=404)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or RequestEntityTooLarge past ``limit`` bytes (unread, when the
    client declared its length)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    if expects_continue(request):
        await request.writer.write(CONTINUE)
        request.writer.output_size = 0
    data = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            while chunk := await request.content.read(_READ):
                data += chunk
                if len(data) > limit:
                    raise too_large(len(data), limit)
    except TimeoutError:
        raise EngineError("RequestTimeout", "The request body was not received in time.",
                          http_status=408) from None
    return bytes(data)


def too_large(size: int, limit: int) -> EngineError:
    return EngineError("RequestEntityTooLarge", f"Request of {size} bytes is larger than "
                       f"the maximum of {limit} bytes.", http_status=413)


def fields(text: bytes | str) -> dict[str, str]:
    """The form's name -> value (``+`` and percent escapes decoded, UTF-8); a name given
    twice keeps its last value."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise malformed("The request body is not UTF-8 text.") from None
    try:
        return dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise malformed("The request's parameters are not a URL-encoded form of UTF-8 "
                        "text.") from None


def tree(flat: Mapping[str, str]) -> Tree:
    """Dotted names as nested dicts: ``{"A.member.1.B": "x"}`` -> ``{"A": {"member":
    {"1": {"B": "x"}}}}``. A name both given a value and used as a prefix keeps the
    prefix when its value is empty (``Tags=`` beside ``Tags.member.1.Key``)."""
    root: Tree = {}
    for name, value in flat.items():
        parts = name.split(".")
        if len(parts) > _MAX_DEPTH or any(not part for part in parts):
            raise malformed(f"The parameter name {name[:200]!r} is not valid.")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if child is None or child == "":
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise malformed(f"The parameter {name!r} extends {part!r}, which has a "
                                "value.")
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict):
            if value != "":
                raise malformed(f"The parameter {name!r} has both a value and members.")
            continue
        node[last] = value
    return root


def members(node: Tree, model: FormModel) -> dict[str, Any]:
    """A structure's members from its tree, each of the kind ``model`` gives it: a
    member given in another form (``UserName.member.1``) is refused, never passed on."""
    return {name: _value(name, child, model) for name, child in node.items()}


def _value(name: str, node: str | Tree, model: FormModel) -> Any:
    if name in model.lists or name in model.structure_lists:
        items = [] if node == "" else _indexed(name, _part(name, node, _LIST, "a list"))
        if name in model.lists:
            return [_text(name, item, "a list of strings") for item in items]
        return [members(_tree(name, item), model) for item in items]
    if name in model.maps:
        entries = [] if node == "" else _indexed(name, _part(name, node, _MAP, "a map"))
        return dict(_entry(name, entry) for entry in entries)
    if name in model.structures:
        return members(_tree(name, node), model)
    text = _text(name, node, "a single value")
    if name in model.integers:
        if not _INTEGER.fullmatch(text):
            raise _invalid(name, text, "an integer")
        return int(text)
    if name in model.booleans:
        if text.lower() not in ("true", "false"):
            raise _invalid(name, text, "true or false")
        return text.lower() == "true"
    return text


def _part(name: str, node: str | Tree, part: str, kind: str) -> Any:
    if not isinstance(node, dict) or set(node) != {part}:
        raise _shape(name, f"{kind}, given as {name}.{part}.N")
    return node[part]


def _text(name: str, node: Any, kind: str) -> str:
    if not isinstance(node, str):
        raise _shape(name, kind)
    return node


def _tree(name: str, node: Any) -> Tree:
    if not isinstance(node, dict) or set(node) & {_LIST, _MAP}:
        raise _shape(name, "a structure, given as its members")
    return node


def _indexed(name: str | None, items: str | Tree) -> list[Any]:
    """The items of ``<name>.member.<N>``, in N's order (1, 2, ..., as SDKs number)."""
    if not isinstance(items, dict):
        raise malformed(f"The list {name} has no items.")
    numbered: dict[int, Any] = {}
    for index, value in items.items():
        if not (_INDEX.fullmatch(index) and 0 < int(index) <= _MAX_INDEX):
            raise malformed(f"The list {name} has an item not numbered from 1: {index!r}.")
        if int(index) in numbered:
            raise malformed(f"The list {name} numbers two items {int(index)}.")
        numbered[int(index)] = value
    return [numbered[index] for index in sorted(numbered)]


def _entry(name: str, entry: Any) -> tuple[str, str]:
    if not isinstance(entry, dict) or set(entry) - {"key", "value"} or \
            not isinstance(entry.get("key"), str) or \
            not isinstance(entry.get("value", ""), str):
        raise malformed(f"The map {name} has an entry that is not a key and a value.")
    return entry["key"], entry.get("value", "")


def _shape(name: str, kind: str) -> EngineError:
    return EngineError("ValidationError", f"1 validation error detected: The parameter "
                       f"{name} must be {kind}.")


def _invalid(name: str, text: str, kind: str) -> EngineError:
    field = name[0].lower() + name[1:]
    return EngineError("ValidationError", f"1 validation error detected: Value '{text}' at "
                       f"'{field}' failed to satisfy constraint: Member must be {kind}")
