"""Cross-origin resource sharing as S3 answers it from a bucket's CORS rules.

The first rule that allows the request's Origin, its method and (for a preflight) every
header it announces decides the answer. A preflight (``OPTIONS``) is answered from the
rule alone, whoever asks; an actual request whose Origin a rule allows gets the same
Access-Control-* headers on its answer, errors included. S3 takes the method from
Access-Control-Request-Method when an actual request carries it. Patterns (origins and
headers) may hold one ``*``, which stands for any characters; headers match whatever
their case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from engine.api.s3.routing import Route
from engine.api.s3.settings_records import cors_config
from engine.api.s3.xml.cors import METHODS, CorsConfiguration, CorsRule
from engine.errors import EngineError
from engine.objects.service import ObjectService

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
REQUEST_KEY = "s3_cors_headers"  # where an actual request's CORS headers wait for its answer
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the "
               "evalution of Origin, request method / Access-Control-Request-Method or "
               "Access-Control-Request-Headers are not whitelisted by the resource's CORS "
               "spec.")  # sic: S3's own spelling
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_BUCKET = "CORSResponse: Bucket not found"


def matches(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and \
        value.endswith(tail)


def requested_headers(text: str | None) -> list[str]:
    """Access-Control-Request-Headers as lower-case names."""
    return [h.strip().lower() for h in (text or "").split(",") if h.strip()]


@dataclass(frozen=True)
class Match:
    rule: CorsRule
    any_origin: bool  # the rule allowed the Origin by a bare "*"


def find_rule(config: CorsConfiguration, origin: str, method: str,
              headers: Iterable[str] = ()) -> Match | None:
    wanted = list(headers)
    for rule in config.rules:
        if method not in rule.allowed_methods:
            continue
        allowed = [o for o in rule.allowed_origins if matches(o, origin)]
        if not allowed:
            continue
        patterns = [h.lower() for h in rule.allowed_headers]
        if all(any(matches(p, h) for p in patterns) for h in wanted):
            return Match(rule, any_origin="*" in allowed)
    return None


def answer_headers(found: Match, origin: str, headers: Iterable[str] = ()) -> dict[str, str]:
    """The Access-Control-* headers (and Vary) of an answer the rule allowed."""
    rule = found.rule
    out = {"Access-Control-Allow-Origin": "*" if found.any_origin else origin,
           "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods)}
    asked = list(headers)
    if asked:
        out["Access-Control-Allow-Headers"] = ", ".join(asked)
    if rule.expose_headers:
        out["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        out["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    if not found.any_origin:
        out["Access-Control-Allow-Credentials"] = "true"
    out["Vary"] = VARY
    return out


def _forbidden(message: str, method: str, route: Route) -> EngineError:
    return EngineError("AccessForbidden", message, Method=method,
                       ResourceType="OBJECT" if route.key else "BUCKET")


async def preflight(objects: ObjectService, route: Route, headers: Mapping[str, str]
                    ) -> dict[str, str]:
    """The headers of the 200 a preflight gets, or S3's refusal: BadRequest without an
    Origin or a known Access-Control-Request-Method, AccessForbidden when the bucket is
    missing, has no CORS rules, or none allows the request."""
    origin = headers.get("origin")
    if origin is None:
        raise EngineError("BadRequest", "Insufficient information. Origin request header "
                          "needed.")
    method = headers.get("access-control-request-method")
    if method not in METHODS:
        raise EngineError("BadRequest", f"Invalid Access-Control-Request-Method: {method}"
                          if method is not None else
                          "Invalid Access-Control-Request-Method: null")
    try:
        record = await objects.bucket_cors_for_request(route.bucket)
    except EngineError as err:
        if err.code in ("NoSuchBucket", "InvalidBucketName"):
            raise _forbidden(NO_BUCKET, method, route) from None
        raise
    if record is None:
        raise _forbidden(NOT_ENABLED, method, route)
    asked = requested_headers(headers.get("access-control-request-headers"))
    found = find_rule(cors_config(record), origin, method, asked)
    if found is None:
        raise _forbidden(NOT_ALLOWED, method, route)
    return answer_headers(found, origin, asked)


async def remember(request: web.Request, route: Route, objects: ObjectService) -> None:
    """For an actual request with an Origin: the CORS headers its answer will carry
    (stamped by :func:`stamp` whatever the answer is). A missing bucket or unreadable
    configuration adds none: the request's own answer says what went wrong."""
    origin = request.headers.get("origin")
    if origin is None or not route.bucket or route.operation == "PreflightRequest":
        return
    try:
        record = await objects.bucket_cors_for_request(route.bucket)
    except EngineError:
        return
    if record is None:
        return
    method = request.headers.get("access-control-request-method") or request.method
    found = find_rule(cors_config(record), origin, method)
    if found is not None:
        request[REQUEST_KEY] = answer_headers(found, origin)


def stamp(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the remembered CORS headers, on any answer."""
    found = request.get(REQUEST_KEY)
    if found:
        response.headers.update(found)
