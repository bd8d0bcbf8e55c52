"""``WebsiteConfiguration`` (Put/GetBucketWebsite), with S3's validation.

The gRPC contract has no website messages, so the configuration is a set of small
dataclasses here; serving the site from it belongs to the REST layer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from engine.api.s3.xml.base import (
    CONFIG_BODY,
    Node,
    add,
    add_if,
    invalid_argument,
    parse,
    render,
    root,
)
from engine.errors import EngineError

MAX_ROUTING_RULES = 50
PROTOCOLS = ("http", "https")


@dataclass(frozen=True)
class RedirectAll:
    host_name: str
    protocol: str = ""


@dataclass(frozen=True)
class Condition:
    key_prefix_equals: str | None = None
    http_error_code_returned_equals: str = ""


@dataclass(frozen=True)
class Redirect:
    host_name: str = ""
    protocol: str = ""
    http_redirect_code: str = ""
    replace_key_prefix_with: str | None = None
    replace_key_with: str | None = None


@dataclass(frozen=True)
class RoutingRule:
    redirect: Redirect
    condition: Condition | None = None


@dataclass(frozen=True)
class WebsiteConfiguration:
    """Either ``redirect_all``, or an index suffix with optional error key and rules."""

    index_suffix: str = ""
    error_key: str = ""
    redirect_all: RedirectAll | None = None
    routing_rules: tuple[RoutingRule, ...] = ()


def _invalid(message: str) -> EngineError:
    return EngineError("InvalidRequest", message)


def _protocol(node: Node) -> str:
    protocol = node.token("Protocol") or ""
    if protocol and protocol not in PROTOCOLS:
        raise _invalid("Invalid protocol, protocol can be http or https. If not defined the "
                       "protocol will be selected automatically.")
    return protocol


def _redirect_all(doc: Node, node: Node) -> RedirectAll:
    if any(doc.child(name) is not None
           for name in ("IndexDocument", "ErrorDocument", "RoutingRules")):
        raise invalid_argument("RedirectAllRequestsTo cannot be provided in conjunction with "
                               "other Routing Rules.", "RedirectAllRequestsTo", "not null")
    host = node.token("HostName")
    if host is None:
        raise node.fail()
    if not host:
        raise _invalid('A host name must be provided to redirect all requests (e.g. '
                       '"example.com").')
    return RedirectAll(host, _protocol(node))


def _condition(node: Node) -> Condition:
    prefix, code = node.string("KeyPrefixEquals"), node.token("HttpErrorCodeReturnedEquals")
    if prefix is None and code is None:
        raise _invalid("Condition cannot be empty. To redirect all requests without a "
                       "condition, the condition element shouldn't be present.")
    if code is not None and not (code.isdigit() and len(code) == 3 and code[0] in "45"):
        raise _invalid(f"The provided HTTP error code ({code}) is not valid. Valid codes are "
                       "4XX or 5XX.")
    return Condition(prefix, code or "")


def _redirect(node: Node) -> Redirect:
    prefix, key = node.string("ReplaceKeyPrefixWith"), node.string("ReplaceKeyWith")
    if prefix is not None and key is not None:
        raise _invalid("You can only define ReplaceKeyPrefix or ReplaceKey but not both.")
    code = node.token("HttpRedirectCode") or ""
    if code and not (code.isdigit() and len(code) == 3 and code[0] == "3" and code != "300"):
        raise _invalid(f"The provided HTTP redirect code ({code}) is not valid. Valid codes "
                       "are 3XX except 300.")
    return Redirect(host_name=node.token("HostName") or "", protocol=_protocol(node),
                    http_redirect_code=code, replace_key_prefix_with=prefix,
                    replace_key_with=key)


def _routing_rules(node: Node) -> tuple[RoutingRule, ...]:
    rules = node.children("RoutingRule")
    if not rules:
        raise node.fail()
    if len(rules) > MAX_ROUTING_RULES:
        raise _invalid(f"The number of routing rules must not exceed {MAX_ROUTING_RULES}.")
    out = []
    for rule in rules:
        condition = rule.child("Condition")
        out.append(RoutingRule(_redirect(rule.require("Redirect")),
                               _condition(condition) if condition is not None else None))
    return tuple(out)


def parse_website(body: bytes) -> WebsiteConfiguration:
    doc = parse(body, "WebsiteConfiguration", CONFIG_BODY)
    redirect_all = doc.child("RedirectAllRequestsTo")
    if redirect_all is not None:
        return WebsiteConfiguration(redirect_all=_redirect_all(doc, redirect_all))
    index = doc.child("IndexDocument")
    if index is None:
        raise invalid_argument("A value for IndexDocument Suffix must be provided if "
                               "RedirectAllRequestsTo is empty", "IndexDocument", "null")
    suffix = index.string("Suffix") or ""
    if not suffix or "/" in suffix:
        raise invalid_argument("The IndexDocument Suffix is not well formed", "IndexDocument",
                               suffix)
    error_key = ""
    if (error := doc.child("ErrorDocument")) is not None:
        error_key = error.string("Key") or ""
        if not error_key:
            raise doc.fail()
    rules = doc.child("RoutingRules")
    return WebsiteConfiguration(index_suffix=suffix, error_key=error_key,
                                routing_rules=_routing_rules(rules) if rules is not None else ())


def _add_redirect(parent: ET.Element, redirect: Redirect) -> None:
    node = add(parent, "Redirect")
    add_if(node, "Protocol", redirect.protocol)
    add_if(node, "HostName", redirect.host_name)
    if redirect.replace_key_prefix_with is not None:
        add(node, "ReplaceKeyPrefixWith", redirect.replace_key_prefix_with)
    if redirect.replace_key_with is not None:
        add(node, "ReplaceKeyWith", redirect.replace_key_with)
    add_if(node, "HttpRedirectCode", redirect.http_redirect_code)


def website_result(config: WebsiteConfiguration) -> bytes:
    doc = root("WebsiteConfiguration")
    if config.redirect_all is not None:
        node = add(doc, "RedirectAllRequestsTo")
        add(node, "HostName", config.redirect_all.host_name)
        add_if(node, "Protocol", config.redirect_all.protocol)
        return render(doc)
    add(add(doc, "IndexDocument"), "Suffix", config.index_suffix)
    if config.error_key:
        add(add(doc, "ErrorDocument"), "Key", config.error_key)
    if config.routing_rules:
        rules = add(doc, "RoutingRules")
        for rule in config.routing_rules:
            node = add(rules, "RoutingRule")
            if rule.condition is not None:
                condition = add(node, "Condition")
                if rule.condition.key_prefix_equals is not None:
                    add(condition, "KeyPrefixEquals", rule.condition.key_prefix_equals)
                add_if(condition, "HttpErrorCodeReturnedEquals",
                       rule.condition.http_error_code_returned_equals)
            _add_redirect(node, rule.redirect)
    return render(doc)
