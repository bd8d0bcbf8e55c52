"""An unsigned query-protocol call on the AWS port: ``POST /`` of a form with no signature.

Such a call names no service in a credential scope; only its form's ``Version`` tells
which API it was meant for (IAM 2010-05-08, STS 2011-06-15). Every action the engine
serves on those APIs needs a signature, so the answer is AWS's: MissingAuthenticationToken
(403) in that API's XML namespace. S3 never takes a form-encoded POST on "/" (its POST
Object is multipart/form-data), so engine/api/aws/service.py hands these here without
taking anything from S3.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from aiohttp import web

from engine.api.auth_interceptor import missing_credentials
from engine.api.aws.query_form import fields, read_body
from engine.api.aws.query_xml import error_response
from engine.errors import EngineError
from engine.observability import request_id

MAX_REQUEST_BYTES = 256 * 1024  # read whole so the connection stays usable


class UnsignedQuery:
    """The AwsService for unsigned query calls; ``namespaces``: API version -> its XML
    namespace, ``default`` for a form naming none of them."""

    def __init__(self, namespaces: Mapping[str, str], default: str) -> None:
        self.namespaces = namespaces
        self.default = default

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        request_id.enter(rid)
        namespace, whole = self.default, False
        try:
            body = await read_body(request, MAX_REQUEST_BYTES)
            whole = True
            namespace = self.namespaces.get(fields(body).get("Version", ""), self.default)
            err = missing_credentials()
        except EngineError as refused:  # too large, too slow, or not a form
            err = refused if not whole else missing_credentials()
        response = error_response(namespace, err, rid)
        if not whole:
            response.force_close()  # the rest of the body must not be read as a request
        return response
