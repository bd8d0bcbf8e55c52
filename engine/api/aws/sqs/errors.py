"""SQS's errors in the JSON protocol, as AWS sends them.

SQS moved from the query protocol to JSON keeping its old codes (the ``awsQueryCompatible``
trait): the body's ``__type`` names the error's shape in botocore's SQS model
(``com.amazonaws.sqs#QueueDoesNotExist``), from which SDKs pick the modeled exception,
and the ``x-amzn-query-error`` header carries the query code and fault
(``AWS.SimpleQueueService.NonExistentQueue;Sender``), which boto3 reports as the error's
``Code``. The engine's errors carry the query code (engine/errors.py), so only the shape
names that differ from it are listed. Anything unexpected is logged and answered
InternalError, never with internals.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from engine.errors import MAX_MESSAGE_BYTES, EngineError, clip

log = logging.getLogger("engine.sqs")

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
REQUEST_ID = "x-amzn-RequestId"
QUERY_ERROR = "x-amzn-query-error"
NAMESPACE = "com.amazonaws.sqs#"
_SERVICE_NAMESPACE = "com.amazon.coral.service#"  # errors of AWS's front end, not SQS's

# query code -> the shape name of the JSON protocol, where they differ
SHAPES: dict[str, str] = {
    "AWS.SimpleQueueService.NonExistentQueue": "QueueDoesNotExist",
    "QueueAlreadyExists": "QueueNameExists",
    "AWS.SimpleQueueService.QueueDeletedRecently": "QueueDeletedRecently",
    "AWS.SimpleQueueService.PurgeQueueInProgress": "PurgeQueueInProgress",
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest": "TooManyEntriesInBatchRequest",
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct": "BatchEntryIdsNotDistinct",
    "AWS.SimpleQueueService.EmptyBatchRequest": "EmptyBatchRequest",
    "AWS.SimpleQueueService.InvalidBatchEntryId": "InvalidBatchEntryId",
    "AWS.SimpleQueueService.BatchRequestTooLong": "BatchRequestTooLong",
    "AWS.SimpleQueueService.MessageNotInflight": "MessageNotInflight",
    "AWS.SimpleQueueService.UnsupportedOperation": "UnsupportedOperation",
    "InvalidParameterValue": "InvalidParameterValueException",
    "MissingParameter": "MissingRequiredParameterException",
    "ResourceNotFoundException": "ResourceNotFoundException",
}
# Errors of AWS's front end, in its namespace: authentication, authorization, and a body
# that is not JSON or too large, answered before SQS sees the request.
FRONT_END: dict[str, str] = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "InvalidClientTokenId",
    "SignatureDoesNotMatch": "SignatureDoesNotMatch",
    "MissingAuthenticationToken": "MissingAuthenticationToken",
    "IncompleteSignature": "IncompleteSignature",
    "RequestExpired": "RequestExpired",
    "ExpiredToken": "ExpiredToken",
    "SerializationException": "SerializationException",
    "RequestEntityTooLarge": "RequestEntityTooLarge",
}
# S3's spelling of a signature failure -> the one SQS (like IAM and STS) answers with
_AS_SQS = {
    "InvalidAccessKeyId": "InvalidClientTokenId",
    "AuthorizationHeaderMalformed": "IncompleteSignature",
    "RequestTimeTooSkewed": "SignatureDoesNotMatch",
}


def as_sqs_error(exc: BaseException, operation: str) -> EngineError:
    """``exc`` as the error SQS would answer; an unexpected one is logged."""
    if not isinstance(exc, EngineError):
        log.error("unexpected failure in SQS %s", operation, exc_info=exc)
        return EngineError("InternalError")
    code = _AS_SQS.get(exc.code)
    if code is None:
        return exc
    return EngineError(code, exc.message, http_status=400 if code == "IncompleteSignature"
                       else 403)


def type_of(code: str) -> str:
    """The ``__type`` of an error whose query code is ``code``."""
    if code in FRONT_END:
        return _SERVICE_NAMESPACE + FRONT_END[code]
    return NAMESPACE + SHAPES.get(code, code)


def error_response(err: EngineError, request_id: str) -> web.Response:
    fault = "Receiver" if err.http_status >= 500 else "Sender"
    body = {"__type": type_of(err.code), "message": clip(err.message, MAX_MESSAGE_BYTES)}
    return web.Response(
        status=err.http_status, body=json.dumps(body).encode(),
        content_type=JSON_CONTENT_TYPE,
        headers={REQUEST_ID: request_id, QUERY_ERROR: f"{err.code};{fault}"})
