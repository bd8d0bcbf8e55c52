"""POST Object: a browser form upload (``multipart/form-data``) to a bucket's URL.

The form's fields come first (key, policy, signature, acl, Content-Type, x-amz-meta-*,
success_action_*...), the file last; fields after it are ignored, as S3 ignores them.
Fields are read up to S3's 20 KiB bound, then everything is decided before one byte of
the file is stored: the signature over the policy (SigV4 ``x-amz-signature``, or SigV2
``signature`` with ``AWSAccessKeyId``), the policy's expiration and conditions (the
bucket is always the URL's, never a form field), and authorization as s3:PutObject by
the signer, the same decision PutObject gets. An unsigned form is anonymous, allowed
only where a bucket policy lets everyone write. The file then streams from the socket
into the object service (aiohttp's MultipartReader, never buffered whole), with the
policy's content-length-range checked as it passes, so an upload out of range is
dropped before anything is committed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import BodyPartReader, MultipartReader, web
from multidict import CIMultiDict

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.auth_interceptor import admit
from engine.api.s3.auth import Caller
from engine.api.s3.body import incomplete_body
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import content_headers, stored_headers, user_metadata
from engine.api.s3.post_policy import PostPolicy, parse_policy
from engine.api.s3.xml.base import add, render, root
from engine.api.transport_keys import http_keys, with_keys
from engine.api.upload_stream import StreamLimits, request_timeout
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.principal import Principal
from engine.iam.signature_errors import invalid_access_key
from engine.sigv4.keys import sign, signing_key
from engine.v1 import objects_pb2 as pb

MAX_PRE_DATA = 20 * 1024  # S3's bound on the fields before the file
SIGV4 = "AWS4-HMAC-SHA256"


def _argument(message: str, name: str, value: str = "") -> EngineError:
    return EngineError("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


class _TimedContent:
    """The request's body stream as MultipartReader reads it, each read bounded by the
    endpoint's idle timeout and the whole by its total one (RequestTimeout)."""

    def __init__(self, ctx: S3Request) -> None:
        self._ctx = ctx
        self._content = ctx.http.content
        self._limits: StreamLimits = ctx.body.limits
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._deadline = loop.time() + self._limits.total if self._limits.total > 0 else None
        self.received = 0

    async def _timed(self, read: Any) -> bytes:
        waits = [self._limits.idle] if self._limits.idle > 0 else []
        if self._deadline is not None:
            waits.append(self._deadline - self._loop.time())
        try:
            async with asyncio.timeout(max(0.0, min(waits)) if waits else None):
                data: bytes = await read
        except TimeoutError:
            self._ctx.body.timed_out = True
            raise request_timeout() from None
        except EngineError:
            raise
        except Exception as exc:  # the connection ended early
            raise incomplete_body(self.received, self._ctx.http.content_length) from exc
        self.received += len(data)
        return data

    async def read(self, n: int = -1) -> bytes:
        return await self._timed(self._content.read(n))

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        if max_line_length is None:
            return await self._timed(self._content.readline())
        return await self._timed(self._content.readline(max_line_length=max_line_length))

    def at_eof(self) -> bool:
        return self._content.at_eof()

    def unread_data(self, data: bytes) -> None:
        self.received -= len(data)
        self._content.unread_data(data)


async def _field_value(part: BodyPartReader, budget: int) -> str:
    """A form field's text, MaxPostPreDataLengthExceeded past ``budget`` bytes."""
    data = bytearray()
    while chunk := await part.read_chunk(4096):
        data += chunk
        if len(data) > budget:
            raise EngineError("MaxPostPreDataLengthExceeded", "Your POST request fields "
                              "preceding the upload file were too large.", http_status=400,
                              MaxPostPreDataLengthBytes=str(MAX_PRE_DATA))
    return data.decode("utf-8", "replace")


async def _form(reader: MultipartReader) -> tuple[dict[str, str], BodyPartReader]:
    """The fields before the file (lower-case names), and the file's part."""
    fields: dict[str, str] = {}
    used = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise EngineError("MalformedPOSTRequest", "The body of your POST request is not "
                              "well-formed multipart/form-data.", http_status=400)
        name = (part.name or "").lower()
        if name == "file":
            return fields, part
        value = await _field_value(part, MAX_PRE_DATA - used - len(name))
        used += len(name) + len(value)
        fields[name] = value
    raise EngineError("IncorrectNumberOfFilesInPostRequest", "POST requires exactly one "
                      "file upload per request.", http_status=400)


def _sigv4_signer(authn: Authenticator, fields: dict[str, str], policy: str
                  ) -> tuple[str, Principal]:
    if fields.get("x-amz-algorithm", "") != SIGV4:
        raise _argument("Only AWS4-HMAC-SHA256 is supported as x-amz-algorithm.",
                        "x-amz-algorithm", fields.get("x-amz-algorithm", ""))
    credential = fields.get("x-amz-credential", "")
    scope = credential.split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        raise _argument("Invalid credential: it must be <key id>/<date>/<region>/s3/"
                        "aws4_request.", "x-amz-credential", credential)
    key_id, date, region = scope[0], scope[1], scope[2]
    if region != authn.region:
        raise EngineError("AuthorizationHeaderMalformed", f"the region '{region}' is wrong; "
                          f"expecting '{authn.region}'", Region=authn.region)
    secret, principal = _lookup(authn, key_id, fields)
    return sign(signing_key(secret, date, region, "s3"), policy), principal


def _sigv2_signer(authn: Authenticator, fields: dict[str, str], policy: str
                  ) -> tuple[str, Principal]:
    secret, principal = _lookup(authn, fields.get("awsaccesskeyid", ""), fields)
    mac = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode(), principal


def _lookup(authn: Authenticator, key_id: str, fields: dict[str, str]
            ) -> tuple[str, Principal]:
    token = fields.get("x-amz-security-token")
    if token is not None:
        return authn.session(token, key_id)
    found = authn.key(key_id)
    if found is None:
        raise invalid_access_key(key_id)
    return found


def _signer(ctx: S3Request, fields: dict[str, str]) -> Principal | None:
    """Who signed the form's policy (None: an unsigned, anonymous form)."""
    authn = ctx.services.authn
    v4, v2 = "x-amz-signature" in fields, "signature" in fields
    if not v4 and not v2:
        return None
    policy = fields.get("policy")
    if policy is None:
        raise _argument("Bucket POST must contain a field named 'policy'.  If it is "
                        "specified, please check the order of the fields.", "policy")
    if authn is None:  # authentication off
        return None
    expected, principal = (_sigv4_signer if v4 else _sigv2_signer)(authn, fields, policy)
    given = fields["x-amz-signature" if v4 else "signature"]
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise EngineError("SignatureDoesNotMatch")
    return with_keys(principal, http_keys(ctx.http.secure, ctx.http.remote))


async def _file(part: BodyPartReader, policy: PostPolicy | None) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive, the policy's size range checked on the way."""
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if policy is not None:
            policy.check_size(size, final=False)
        yield chunk
    if policy is not None:
        policy.check_size(size, final=True)


def _answer(ctx: S3Request, fields: dict[str, str], key: str, version: Any) -> web.Response:
    etag = convert.quoted(version.etag)
    location = f"{ctx.http.scheme}://{ctx.headers.get('host', '')}/{ctx.bucket}/{key}"
    headers = {"ETag": etag, "Location": location}
    if convert.version_header(version.version_id):
        headers["x-amz-version-id"] = version.version_id
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": ctx.bucket, "key": key, "etag": etag})
        headers["Location"] = f"{redirect}{'&' if '?' in redirect else '?'}{query}"
        return web.Response(status=303, headers=headers)
    status = fields.get("success_action_status", "")
    if status == "201":
        doc = root("PostResponse")
        for name, value in (("Location", location), ("Bucket", ctx.bucket), ("Key", key),
                            ("ETag", etag)):
            add(doc, name, value)
        body = render(doc)
        return web.Response(status=201, body=body, content_type=XML, headers=headers)
    return web.Response(status=200 if status == "200" else 204, headers=headers)


async def post_object(ctx: S3Request) -> web.StreamResponse:
    content_type = ctx.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data") or \
            "boundary=" not in content_type:
        raise EngineError("PreconditionFailed", Condition="Bucket POST must be of the "
                          "enclosure-type multipart/form-data")
    content = _TimedContent(ctx)
    reader = MultipartReader(ctx.headers, content)  # type: ignore[arg-type]
    fields, file_part = await _form(reader)
    if "key" not in fields:
        raise _argument("Bucket POST must contain a field named 'key'.  If it is specified, "
                        "please check the order of the fields.", "key")
    key = fields["key"].replace("${filename}", file_part.filename or "")
    fields["key"] = key
    principal = _signer(ctx, fields)
    policy = parse_policy(fields["policy"]) if "policy" in fields else None
    if policy is not None:
        now = dt.datetime.fromtimestamp(ctx.objects.clock.now_ns() / 1e9, dt.UTC)
        policy.check(fields, ctx.bucket, now)
    caller = ctx.caller if principal is None else Caller(principal)
    if principal is not None:
        admit(principal)
        if ctx.audit is not None:
            ctx.audit.authenticated(principal)
    form = CIMultiDict(fields)
    header = pb.PutObjectHeader(
        bucket=ctx.bucket, key=key, headers=content_headers(form),
        metadata=user_metadata(form), storage_class=form.get("x-amz-storage-class", ""),
        acl=pb.AclSpec(canned=form.get("acl", "")) if "acl" in form else pb.AclSpec())
    signed = replace(ctx, caller=caller)
    await signed.authorize_rpc("PutObject", pb.PutObjectRequest(header=header))
    options = ac.with_acl(
        convert.write_options(header.headers, dict(header.metadata), header.storage_class, ""),
        header.acl, ctx.objects.account, ctx.bucket, key)
    stored_headers(options.content, form)
    options.event = "ObjectCreated:Post"
    version = await ctx.objects.put_object(ctx.bucket, key, _file(file_part, policy), options)
    while (rest := await reader.next()) is not None:  # fields after the file: ignored
        await rest.release()
    ctx.body.consumed = ctx.http.content.at_eof()
    return _answer(ctx, fields, key, version)


OPERATIONS: dict[str, Operation] = {"PostObject": post_object}
