"""``CORSConfiguration`` (Put/GetBucketCors), with S3's validation.

The gRPC contract has no CORS messages, so the configuration is a small dataclass here;
the preflight logic that reads it belongs to the REST layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.s3.xml.base import SMALL_BODY, Node, add, add_all, add_if, parse, render, root
from engine.errors import EngineError

MAX_RULES = 100
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")


@dataclass(frozen=True)
class CorsRule:
    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str = ""


@dataclass(frozen=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]


def _invalid(message: str) -> EngineError:
    return EngineError("InvalidRequest", message)


def _values(node: Node, name: str) -> tuple[str, ...]:
    return tuple(child.text for child in node.children(name))


def _rule(node: Node) -> CorsRule:
    methods, origins = _values(node, "AllowedMethod"), _values(node, "AllowedOrigin")
    if not methods or not origins:
        raise node.fail()
    for method in methods:
        if method not in METHODS:
            raise _invalid(f"Found unsupported HTTP method in CORS config. Unsupported method "
                           f"is {method}")
    headers = _values(node, "AllowedHeader")
    for kind, values in (("AllowedOrigin", origins), ("AllowedHeader", headers)):
        for value in values:
            if value.count("*") > 1:
                raise _invalid(f'{kind} "{value}" can not have more than one wildcard.')
    expose = _values(node, "ExposeHeader")
    for value in expose:
        if "*" in value:
            raise _invalid(f'ExposeHeader "{value}" contains wildcard. We currently do not '
                           "support wildcard for ExposeHeader.")
    return CorsRule(allowed_methods=methods, allowed_origins=origins, allowed_headers=headers,
                    expose_headers=expose, max_age_seconds=node.integer("MaxAgeSeconds"),
                    id=node.string("ID") or "")


def parse_cors(body: bytes) -> CorsConfiguration:
    """One to 100 CORSRules (MalformedXML otherwise), each with an AllowedOrigin and an
    AllowedMethod; S3's InvalidRequest for an unknown method or a second wildcard."""
    doc = parse(body, "CORSConfiguration", SMALL_BODY)
    rules = doc.children("CORSRule")
    if not rules or len(rules) > MAX_RULES:
        raise doc.fail()
    return CorsConfiguration(tuple(_rule(r) for r in rules))


def cors_result(config: CorsConfiguration) -> bytes:
    doc = root("CORSConfiguration")
    for rule in config.rules:
        node = add(doc, "CORSRule")
        add_if(node, "ID", rule.id)
        add_all(node, "AllowedHeader", rule.allowed_headers)
        add_all(node, "AllowedMethod", rule.allowed_methods)
        add_all(node, "AllowedOrigin", rule.allowed_origins)
        add_all(node, "ExposeHeader", rule.expose_headers)
        add_if(node, "MaxAgeSeconds", rule.max_age_seconds)
    return render(doc)
