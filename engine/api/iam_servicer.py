"""IAM and STS over gRPC: an AWS action name and its members as JSON, in and out (see
iam.proto). The caller was authenticated and authorized by the AuthInterceptor."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from engine.api.auth_interceptor import current_principal, missing_credentials
from engine.api.rpc import unary
from engine.errors import EngineError
from engine.iam.principal import Principal
from engine.v1 import iam_pb2 as pb
from engine.v1 import iam_pb2_grpc

Handler = Callable[[str, dict[str, Any], Principal], Awaitable[dict[str, Any]]]
MAX_PARAMS = 256 * 1024


async def _call(handle: Handler, request: pb.AwsCall) -> pb.AwsReply:
    principal = current_principal()
    if principal is None:
        raise missing_credentials()
    if len(request.params_json) > MAX_PARAMS:
        raise EngineError("InvalidInput", "The request parameters are too large")
    try:
        params = json.loads(request.params_json or "{}")
    except ValueError as exc:
        raise EngineError("InvalidInput", "The request parameters are not valid JSON") from exc
    if not isinstance(params, dict):
        raise EngineError("InvalidInput", "The request parameters must be a JSON object")
    result = await handle(request.action, params, principal)
    return pb.AwsReply(result_json=json.dumps(result, separators=(",", ":")))


class AwsCallServicer:
    """``Call(AwsCall) -> AwsReply`` for a service whose operations take and return AWS's
    members as JSON (IAM, STS, ElastiCache's management API)."""

    def __init__(self, handle: Handler) -> None:
        self._handle = handle

    @unary
    async def Call(self, request: pb.AwsCall, context: grpc.aio.ServicerContext
                   ) -> pb.AwsReply:
        return await _call(self._handle, request)


class IamServicer(AwsCallServicer, iam_pb2_grpc.IamServicer):
    pass


class StsServicer(AwsCallServicer, iam_pb2_grpc.StsServicer):
    pass
