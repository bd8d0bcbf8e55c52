"""Answering one website request, in S3's order: the bucket and its website
configuration, RedirectAllRequestsTo, routing rules that redirect before a read, the
object (a folder's index document; 301 to its x-amz-website-redirect-location if set),
and on failure a folder without its slash (302), routing rules on the error code, the
custom error document (with the failure's status) or S3's HTML error page.

Objects are read as the anonymous principal with the connection's condition keys, so a
site shows what the bucket's policy and ACLs let everyone read while Block Public Access
permits, and a key that is not there is 403, not 404, unless everyone may also list the
bucket, as S3 answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from engine.api.access_rules_s3 import on_bucket, on_object
from engine.api.access_table import Access
from engine.api.s3.access import S3Access
from engine.api.s3.errors import host_id
from engine.api.s3.headers import conditions, object_headers
from engine.api.s3.routing import split_target
from engine.api.s3.settings_records import website_config
from engine.api.s3.website import rules
from engine.api.s3.website.pages import CONTENT_TYPE, Failure, page
from engine.api.s3.xml.website import WebsiteConfiguration
from engine.api.transport_keys import http_keys, with_keys
from engine.errors import EngineError
from engine.iam.principal import Principal, anonymous
from engine.objects.service import ObjectRead, ObjectService
from engine.observability import request_id

log = logging.getLogger("engine.s3.website")

IDS = "s3_ids"  # the request's (x-amz-request-id, x-amz-id-2), as the S3 endpoint keeps them


@dataclass(frozen=True)
class Asked:
    """One website request, as far as answering it needs."""

    http: web.Request
    principal: Principal
    protocol: str
    host: str
    ids: tuple[str, str]

    @property
    def head(self) -> bool:
        return self.http.method == "HEAD"


class WebsiteHandler:
    def __init__(self, objects: ObjectService, access: S3Access | None, node_id: str, *,
                 domains: tuple[str, ...] = (), secure: bool = False) -> None:
        self.objects = objects
        self.access = access
        self.node_id = node_id
        self.domains = domains
        self.secure = secure

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = request_id.new().upper()
        request_id.enter(rid)
        ids = request[IDS] = (rid, host_id(self.node_id, rid))
        asked = Asked(request, with_keys(anonymous(""), http_keys(self.secure, request.remote)),
                      "https" if self.secure else "http", request.headers.get("host", ""), ids)
        try:
            return await self._serve(asked)
        except EngineError as err:
            return _page(asked, Failure.of(err))
        except Exception:
            log.exception("website request %s %s failed", request.method, request.path)
            return _page(asked, Failure.of(EngineError("InternalError")))

    async def _serve(self, asked: Asked) -> web.StreamResponse:
        method = asked.http.method
        if method not in ("GET", "HEAD"):
            raise EngineError("MethodNotAllowed", Method=method, ResourceType="OBJECT")
        raw_path, raw_query = split_target(asked.http.raw_path)
        site = rules.site_of(asked.host, raw_path, self.domains)
        if site is None:
            raise EngineError("NoSuchBucket", BucketName="")
        config = website_config(await self.objects.get_bucket_website(site.bucket,
                                                                      stale_ok=True))
        if config.redirect_all is not None:
            path = site.path + (f"?{raw_query}" if raw_query else "")
            return _redirect(rules.DEFAULT_REDIRECT, rules.redirect_all_location(
                config.redirect_all, protocol=asked.protocol, path=path))
        rule = rules.rule_before_read(config, site.key)
        if rule is not None:
            return _redirect(*rules.rule_location(rule, site.key, protocol=asked.protocol,
                                                  host=asked.host, base=site.base))
        wanted = rules.index_key(config, site.key)
        try:
            read = await self._read(asked, site.bucket, wanted, forward=True)
        except EngineError as err:
            if err.code == "NotModified":
                return web.Response(status=304)
            return await self._failed(asked, site, config, wanted, err)
        location = read.version.content.website_redirect_location
        if location:  # the object's x-amz-website-redirect-location: 301, no body
            if read.body is not None:
                await read.body.aclose()  # type: ignore[attr-defined]
            return _redirect(301, location)
        return await _send(asked, read)

    async def _failed(self, asked: Asked, site: rules.Site, config: WebsiteConfiguration,
                      wanted: str, err: EngineError) -> web.StreamResponse:
        failure = Failure.of(err, wanted)
        status = err.http_status
        folder = site.key + "/" + config.index_suffix
        if wanted == site.key and status in (403, 404) and \
                await self._exists(asked, site.bucket, folder):
            return _redirect(rules.FOLDER_REDIRECT, rules.folder_location(site.key, site.base))
        rule = rules.rule_after_error(config, site.key, status)
        if rule is not None:
            return _redirect(*rules.rule_location(rule, site.key, protocol=asked.protocol,
                                                  host=asked.host, base=site.base))
        if not config.error_key or not 400 <= status < 500:
            return _page(asked, failure)
        try:
            document = await self._read(asked, site.bucket, config.error_key, forward=False)
        except EngineError as doc_err:
            return _page(asked, failure, Failure.of(doc_err, config.error_key))
        return await _send(asked, document, status=status, extra=failure.headers())

    async def _read(self, asked: Asked, bucket: str, key: str, *, forward: bool
                    ) -> ObjectRead:
        """The object as everyone may read it; ``forward``: with the request's range and
        conditions."""
        await self._authorize(asked, on_object("s3:GetObject", bucket, key))
        call = self.objects.head_object if asked.head else self.objects.get_object
        headers = asked.http.headers
        try:
            if forward:
                return await call(bucket, key, range_header=headers.get("range"),
                                  conditions=conditions(headers))
            return await call(bucket, key)
        except EngineError as err:
            if err.code == "NoSuchKey" and not await self._allowed(
                    asked, on_bucket("s3:ListBucket", bucket)):
                raise EngineError("AccessDenied") from None
            raise

    async def _exists(self, asked: Asked, bucket: str, key: str) -> bool:
        try:
            await self._authorize(asked, on_object("s3:GetObject", bucket, key))
            await self.objects.head_object(bucket, key)
        except EngineError:
            return False
        return True

    async def _authorize(self, asked: Asked, access: Access) -> None:
        if self.access is not None:
            await self.access.authorize(asked.principal, [access])

    async def _allowed(self, asked: Asked, access: Access) -> bool:
        if self.access is None:
            return True
        return (await self.access.decide(asked.principal, access)).allowed


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def _page(asked: Asked, failure: Failure, document: Failure | None = None) -> web.Response:
    body = page(failure, *asked.ids, document=document)
    headers = {"Content-Type": CONTENT_TYPE, **failure.headers()}
    if asked.head:
        return web.Response(status=failure.status, headers=headers)
    return web.Response(status=failure.status, body=body, headers=headers)


async def _send(asked: Asked, read: ObjectRead, *, status: int | None = None,
                extra: dict[str, str] | None = None) -> web.StreamResponse:
    """The object's headers and body (none for HEAD), streamed; ``status`` replaces the
    read's own (a custom error document answers with the failure's)."""
    headers = {**object_headers(read, checksum_mode=False), **(extra or {})}
    own = 206 if read.range is not None else 200
    response = web.StreamResponse(status=status or own, headers=headers)
    response.content_length = read.content_length
    body = read.body
    try:
        await response.prepare(asked.http)
        if body is not None:
            async for chunk in body:
                await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, OSError) as exc:
        log.debug("website answer cut short: %s", exc)
    except Exception:
        log.exception("website answer failed after its headers were sent")
        response.force_close()
        if asked.http.transport is not None:
            asked.http.transport.close()
    finally:
        if body is not None:
            await body.aclose()  # type: ignore[attr-defined]
    return response
