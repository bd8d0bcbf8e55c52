"""Where a website request goes: its bucket and key, and the redirects a website
configuration makes (RedirectAllRequestsTo, routing rules, a folder without its slash).

A request names its bucket as S3's website endpoints do: by a Host under a website
domain (``photos.s3-website.localhost``), or by a Host that is the bucket's name (a
CNAME such as ``www.example.com``). A Host that cannot be a bucket (an IP address,
``localhost`` or the website domain itself) falls back to path style, ``/photos/key``,
and the redirects it gets keep the ``/photos`` prefix. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from engine.api.s3.routing import host_bucket, invalid_uri
from engine.api.s3.xml.website import RedirectAll, RoutingRule, WebsiteConfiguration

DEFAULT_REDIRECT = 301
FOLDER_REDIRECT = 302


@dataclass(frozen=True)
class Site:
    """The bucket a request is for, the key it asks for (decoded, "" for the root), the
    path as received after the bucket (what RedirectAllRequestsTo keeps) and the prefix
    of the addressing style ("" virtual-hosted, "/bucket" path style)."""

    bucket: str
    key: str
    path: str
    base: str = ""


def _decode(raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_uri() from None


def _host_name(host: str) -> str:
    name = host.strip().lower()
    if name.startswith("["):
        return name.partition("]")[0] + "]"
    return name.rpartition(":")[0] if ":" in name else name


def _not_a_bucket(name: str, domains: Iterable[str]) -> bool:
    if name == "localhost" or name in domains or name.startswith("["):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def site_of(host: str, raw_path: str, domains: Iterable[str]) -> Site | None:
    """The site a request (Host header, raw path) is for; None: path style with no
    bucket named. InvalidURI when the path is not percent-encoded UTF-8."""
    domains = tuple(domains)
    bucket = host_bucket(host, domains)
    if bucket is not None:
        return Site(bucket, _decode(raw_path[1:]), raw_path)
    name = _host_name(host)
    if name and not _not_a_bucket(name, domains):
        return Site(name, _decode(raw_path[1:]), raw_path)
    first, _, rest = raw_path[1:].partition("/")
    if not first:
        return None
    return Site(_decode(first), _decode(rest), "/" + rest, base="/" + first)


def index_key(config: WebsiteConfiguration, key: str) -> str:
    """The object a key asks for: a folder ("" or ending in "/") means its index."""
    return key + config.index_suffix if not key or key.endswith("/") else key


def _prefix_matches(rule: RoutingRule, key: str) -> bool:
    prefix = rule.condition.key_prefix_equals if rule.condition is not None else None
    return prefix is None or key.startswith(prefix)


def rule_before_read(config: WebsiteConfiguration, key: str) -> RoutingRule | None:
    """The first rule that redirects ``key`` before anything is read: one without a
    condition, or whose only condition is a key prefix it has."""
    for rule in config.routing_rules:
        condition = rule.condition
        if condition is None or (not condition.http_error_code_returned_equals
                                 and _prefix_matches(rule, key)):
            return rule
    return None


def rule_after_error(config: WebsiteConfiguration, key: str, status: int
                     ) -> RoutingRule | None:
    """The first rule that redirects ``key`` once its read failed with ``status``."""
    for rule in config.routing_rules:
        condition = rule.condition
        if condition is not None and condition.http_error_code_returned_equals == str(status) \
                and _prefix_matches(rule, key):
            return rule
    return None


def encode_key(key: str) -> str:
    return quote(key, safe="/-_.~")


def rule_location(rule: RoutingRule, key: str, *, protocol: str, host: str, base: str
                  ) -> tuple[int, str]:
    """(status, Location) of a routing rule's redirect for ``key``: its host (default:
    the request's, where the addressing style's prefix is kept), protocol (default: the
    request's) and the key replaced as it says."""
    redirect = rule.redirect
    prefix = rule.condition.key_prefix_equals if rule.condition is not None else None
    if redirect.replace_key_with is not None:
        target = redirect.replace_key_with
    elif redirect.replace_key_prefix_with is not None:
        rest = key[len(prefix):] if prefix and key.startswith(prefix) else key
        target = redirect.replace_key_prefix_with + rest
    else:
        target = key
    where = redirect.host_name or host
    path = ("" if redirect.host_name else base) + "/" + encode_key(target)
    status = int(redirect.http_redirect_code or DEFAULT_REDIRECT)
    return status, f"{redirect.protocol or protocol}://{where}{path}"


def redirect_all_location(redirect: RedirectAll, *, protocol: str, path: str) -> str:
    """RedirectAllRequestsTo: the same path (and query) on the configured host."""
    return f"{redirect.protocol or protocol}://{redirect.host_name}{path}"


def folder_location(key: str, base: str) -> str:
    """A folder asked for without its slash: S3's 302 to the folder."""
    return f"{base}/{encode_key(key)}/"
