"""What every S3 XML codec shares: hardened, bounded parsing into a small read-only view,
a writer that escapes as S3 does, timestamps, query-string numbers and ``encoding-type=url``.

Parsing goes through defusedxml (no DTD, no entity, no external reference), so a hostile
body costs at most its size, which each document bounds. Every failure is S3's
MalformedXML (MalformedACLError for ACLs) with S3's message, never a Python traceback.
Element names are matched by local name: S3 accepts bodies with its namespace or none.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from xml.parsers import expat

import defusedxml
import defusedxml.ElementTree as SafeET
from google.protobuf.timestamp_pb2 import Timestamp

from engine.errors import EngineError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Body bounds per document. S3 publishes few; these hold what a client really sends for
# each kind (1000 keys of 1024 bytes, 10000 parts with checksums) with room to spare, and
# bound what a hostile body can cost before it is refused unread.
SMALL_BODY = 64 * 1024  # versioning, PAB, ownership, restore, ACL, tagging, CORS
CONFIG_BODY = 512 * 1024  # lifecycle (1000 rules), website (routing rules)
DELETE_BODY = 4 * 1024 * 1024
COMPLETE_BODY = 8 * 1024 * 1024

INT32_MAX = 2**31 - 1
_INT = re.compile(r"-?[0-9]+")


def malformed(code: str = "MalformedXML") -> EngineError:
    """S3's schema error: its fixed message, no detail (S3 names none)."""
    return EngineError(code)


# --- reading -----------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Node:
    """One parsed element. Lookups are by local name; anything S3 would reject as schema
    violations (a repeated single element, a non-integer count) raises ``code``."""

    __slots__ = ("code", "element")

    def __init__(self, element: ET.Element, code: str) -> None:
        self.element = element
        self.code = code

    @property
    def name(self) -> str:
        return _local(self.element.tag)

    @property
    def text(self) -> str:
        """The element's character data, exactly as sent (keys keep their spaces)."""
        return self.element.text or ""

    def attribute(self, namespace: str, name: str) -> str | None:
        return self.element.get(f"{{{namespace}}}{name}")

    def fail(self) -> EngineError:
        return malformed(self.code)

    def children(self, name: str | None = None) -> list[Node]:
        return [Node(e, self.code) for e in self.element
                if name is None or _local(e.tag) == name]

    def child(self, name: str) -> Node | None:
        found = self.children(name)
        if len(found) > 1:
            raise self.fail()
        return found[0] if found else None

    def require(self, name: str) -> Node:
        found = self.child(name)
        if found is None:
            raise self.fail()
        return found

    def string(self, name: str) -> str | None:
        """A child's text, or None when the child is absent."""
        found = self.child(name)
        return None if found is None else found.text

    def token(self, name: str) -> str | None:
        """A child's text with surrounding whitespace removed (enums, ids, numbers)."""
        found = self.string(name)
        return None if found is None else found.strip()

    def integer(self, name: str) -> int | None:
        raw = self.token(name)
        if raw is None:
            return None
        digits = raw.lstrip("-").lstrip("0") or "0"
        if not _INT.fullmatch(raw) or len(digits) > 19 or int(digits) > 2**63 - 1:
            raise self.fail()
        return -int(digits) if raw.startswith("-") else int(digits)

    def boolean(self, name: str) -> bool | None:
        raw = self.token(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise self.fail()
        return raw.lower() == "true"


def parse(body: bytes, document: str, limit: int, *, code: str = "MalformedXML") -> Node:
    """``body`` as the root element ``document``, or ``code``: empty, too large, not well-formed,
    a DTD or entity, or another root element."""
    if not body or len(body) > limit:
        raise malformed(code)
    try:
        element = SafeET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, expat.ExpatError, defusedxml.DefusedXmlException, ValueError):
        raise malformed(code) from None
    tag = element.tag
    namespace = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    if _local(tag) != document or namespace not in ("", NS):
        raise malformed(code)
    return Node(element, code)


# --- writing -----------------------------------------------------------------------------

# XML 1.0 cannot carry most C0 controls even as character references, but S3 sends them
# as references (which is why encoding-type=url exists); a bare CR would be read back as LF.
_ESCAPE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"}
_NEEDS_ESCAPE = re.compile(r'[&<>"\x00-\x08\x0b-\x1f]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESCAPE.get(char) or f"&#{ord(char)};"


def escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def root(name: str) -> ET.Element:
    """A document's root element, in S3's default namespace."""
    return ET.Element(name, {"xmlns": NS})


Value = str | int | bool | Timestamp


def text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp):
        return iso(value)
    return str(value)


def add(parent: ET.Element, name: str, value: Value | None = None) -> ET.Element:
    """Append ``<name>value</name>`` (an empty element when value is None)."""
    child = ET.SubElement(parent, name)
    if value is not None:
        child.text = text(value)
    return child


def add_if(parent: ET.Element, name: str, value: Value | None) -> None:
    """Append only when there is something to say: S3 leaves empty optional elements out."""
    if value is None or value == "" or (isinstance(value, Timestamp) and value.ByteSize() == 0):
        return
    add(parent, name, value)


def add_all(parent: ET.Element, name: str, values: Iterable[Value]) -> None:
    for value in values:
        add(parent, name, value)


def add_owner(parent: ET.Element, name: str, owner_id: str, display_name: str = "") -> None:
    """``<Owner>`` / ``<Initiator>``: an ID, and a DisplayName only where there is one."""
    if not owner_id:
        return
    holder = add(parent, name)
    add(holder, "ID", owner_id)
    add_if(holder, "DisplayName", display_name)


def _write(node: ET.Element, out: list[str]) -> None:
    out.append(f"<{node.tag}")
    for key, value in node.attrib.items():
        out.append(f' {key}="{escape(value)}"')
    if node.text is None and len(node) == 0:
        out.append(f"></{node.tag}>")  # S3 writes <Prefix></Prefix>, not <Prefix/>
        return
    out.append(">")
    if node.text is not None:
        out.append(escape(node.text))
    for child in node:
        _write(child, out)
    out.append(f"</{node.tag}>")


def render(root: ET.Element) -> bytes:
    """The document as S3 sends it: declaration, then the tree without whitespace."""
    out = [DECLARATION]
    _write(root, out)
    return "".join(out).encode("utf-8")


# --- timestamps ----------------------------------------------------------------------------


def iso(ts: Timestamp) -> str:
    """``2009-10-12T17:50:30.000Z``: S3's XML timestamps, millisecond precision, UTC."""
    moment = dt.datetime.fromtimestamp(ts.seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts.nanos // 1_000_000:03d}Z"


def parse_iso(raw: str, code: str = "MalformedXML") -> Timestamp:
    """An ISO 8601 instant from a request document (``...Z`` or with an offset)."""
    value = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z")
                                           else value)
    except ValueError:
        raise malformed(code) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    ts = Timestamp()
    ts.FromDatetime(moment.astimezone(dt.UTC))
    return ts


# --- encoding-type=url ---------------------------------------------------------------------

# What S3 leaves as it is: Java's URLEncoder set plus "/". A space becomes "+", every other
# byte of the UTF-8 "%XX" upper case ("~" too, unlike Python's quote).
_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*/")
_BYTE_TEXT = tuple(chr(b) if b in _URL_SAFE else "+" if b == 0x20 else f"%{b:02X}"
                   for b in range(256))


def url_encode(value: str) -> str:
    """``value`` as S3 writes a key under ``encoding-type=url``."""
    return "".join(_BYTE_TEXT[b] for b in value.encode("utf-8", "surrogatepass"))


def _identity(value: str) -> str:
    return value


def encoder(encoding_type: str) -> Callable[[str], str]:
    """How a listing writes keys and prefixes for the request's ``encoding-type``."""
    return url_encode if encoding_type else _identity


# --- query strings ---------------------------------------------------------------------------


def invalid_argument(message: str, name: str, value: str | None = None) -> EngineError:
    details = {"ArgumentName": name}
    if value is not None:
        details["ArgumentValue"] = value
    return EngineError("InvalidArgument", message, **details)


def encoding_type(query: Mapping[str, str]) -> str:
    """The ``encoding-type`` parameter, echoed as sent: S3 knows only ``url`` (any case)."""
    value = query.get("encoding-type")
    if value is None:
        return ""
    if value.lower() != "url":
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type",
                               value)
    return value


def query_int(query: Mapping[str, str], name: str, *, range_name: str | None = None
              ) -> int | None:
    """A non-negative int32 parameter (max-keys, max-parts, ...): None when absent or empty;
    S3's two refusals, one for what is not an int32 and one for a negative value."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    digits = raw.lstrip("-").lstrip("0") or "0"
    ceiling = INT32_MAX + 1 if raw.startswith("-") else INT32_MAX
    if not _INT.fullmatch(raw) or len(digits) > 10 or int(digits) > ceiling:
        raise invalid_argument(f"Provided {name} not an integer or within integer range",
                               name, raw)
    value = -int(digits) if raw.startswith("-") else int(digits)
    if value < 0:
        shown = range_name or name
        raise invalid_argument(f"Argument {shown} must be an integer between 0 and "
                               f"{INT32_MAX}", name, str(value))
    return value


def query_bool(query: Mapping[str, str], name: str) -> bool:
    """A boolean parameter (fetch-owner): ``true``/``false`` in any case, absent is false."""
    raw = query.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise invalid_argument(f"Invalid value for {name}: {raw}", name, raw)
    return raw.lower() == "true"
