"""Exceptions the SDK raises, shaped like botocore's so boto3 error handling ports unchanged.

Wire decoding is :meth:`engine.errors.EngineError.from_rpc_error`; this module only turns
the decoded error into botocore's ``ClientError.response`` layout and picks the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import grpc

from engine.errors import EngineError

# Error metadata keys the server sends -> the member names S3's XML error body uses.
_DETAIL_NAMES = {
    "bucket": "BucketName",
    "key": "Key",
    "version_id": "VersionId",
    "condition": "Condition",
    "resource": "Resource",
    "argument_name": "ArgumentName",
    "argument_value": "ArgumentValue",
    "storage_class": "StorageClass",
    "range": "RangeRequested",
    "actual_object_size": "ActualObjectSize",
}


class ClientError(Exception):
    """A request the service answered with an error (botocore.exceptions.ClientError)."""

    MSG_TEMPLATE = (
        "An error occurred ({error_code}) when calling the {operation_name} "
        "operation: {error_message}"
    )

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        error = error_response.get("Error", {})
        super().__init__(
            self.MSG_TEMPLATE.format(
                error_code=error.get("Code", "Unknown"),
                error_message=error.get("Message", "Unknown"),
                operation_name=operation_name,
            )
        )
        self.response = error_response
        self.operation_name = operation_name

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable across processes (multiprocessing pools), as botocore's is.
        return self.__class__, (self.response, self.operation_name)


class EndpointConnectionError(ClientError):
    """The endpoint could not be reached (gRPC UNAVAILABLE without a service error)."""


class ReadTimeoutError(ClientError):
    """The service did not answer within the client's timeout."""


class ParamValidationError(ValueError):
    """A request parameter is malformed; raised before anything is sent."""


class OperationNotPageableError(ValueError):
    """``get_paginator`` was asked for an operation that has no paginator."""

    def __init__(self, operation_name: str) -> None:
        super().__init__(f"Operation cannot be paginated: {operation_name}")
        self.operation_name = operation_name


class UnknownServiceError(ValueError):
    """``client()`` was asked for a service the SDK does not have."""


class PaginationError(ValueError):
    """The service handed back the same continuation token twice (would loop forever)."""


class IncompleteReadError(Exception):
    """A streamed body ended before (or after) the announced Content-Length."""

    def __init__(self, actual_bytes: int, expected_bytes: int) -> None:
        super().__init__(
            f"{actual_bytes} read, but total bytes expected is {expected_bytes}."
        )
        self.actual_bytes = actual_bytes
        self.expected_bytes = expected_bytes


class S3UploadFailedError(Exception):
    """upload_file failed (boto3.exceptions.S3UploadFailedError); the service's
    ClientError is its ``__cause__``."""


class RetriesExceededError(Exception):
    """A download kept breaking off (boto3.exceptions.RetriesExceededError)."""

    def __init__(self, last_exception: BaseException, msg: str = "Max Retries Exceeded") -> None:
        super().__init__(msg)
        self.last_exception = last_exception


# S3's modeled exceptions, as botocore generates them from the service model: a boto3
# user writes `except s3.exceptions.NoSuchKey`. Raised only when the error code matches.
class NoSuchKey(ClientError):
    """The key does not exist (GET; HEAD has no body, so it raises a plain "404")."""


class NoSuchBucket(ClientError):
    """The bucket does not exist."""


class BucketAlreadyExists(ClientError):
    """The bucket name is taken by another owner."""


class BucketAlreadyOwnedByYou(ClientError):
    """The bucket exists and is yours already."""


class InvalidObjectState(ClientError):
    """The object's storage class forbids the operation (archived, not restored)."""


class InvalidRequest(ClientError):
    """The request is not valid as a whole (e.g. a copy onto itself changing nothing)."""


class NoSuchUpload(ClientError):
    """The multipart upload does not exist."""


class ObjectAlreadyInActiveTierError(ClientError):
    """RestoreObject on an object that is not archived."""


class ObjectNotInActiveTierError(ClientError):
    """The source of a copy is archived."""


class TooManyParts(ClientError):
    """An upload would exceed the parts a multipart upload may have."""


class EncryptionTypeMismatch(ClientError):
    """The encryption asked for differs from the object's (modeled; not raised here yet)."""


class IdempotencyParameterMismatch(ClientError):
    """A retried request differed from the first (modeled; not raised here yet)."""


class InvalidWriteOffset(ClientError):
    """An append at the wrong offset (modeled; not raised here yet)."""


class ClientExceptions:
    """``client.exceptions``: the modeled classes of one service, looked up by code.

    ``modeled`` maps error code -> class; each class is an attribute under its own name.
    The two differ where the service model says so (SQS's QueueDoesNotExist has the code
    "AWS.SimpleQueueService.NonExistentQueue"). ``query_compatible`` marks a JSON service
    that kept its Query-protocol error codes (SQS): botocore then adds the error's Type
    and, for modeled errors, the JSON name as QueryErrorCode, and nothing else.
    """

    ClientError = ClientError

    def __init__(
        self, modeled: Mapping[str, type[ClientError]], *, query_compatible: bool = False
    ) -> None:
        self._by_code = dict(modeled)
        self._query_compatible = query_compatible
        for cls in modeled.values():
            setattr(self, cls.__name__, cls)

    def from_code(self, error_code: str) -> type[ClientError]:
        return self._by_code.get(error_code, ClientError)

    def error_fields(self, err: EngineError) -> dict[str, Any]:
        """The ``Error`` member for an error the service answered with."""
        error: dict[str, Any] = {"Code": err.code, "Message": err.message}
        if self._query_compatible:
            modeled = self._by_code.get(err.code)
            if modeled is not None:
                error["QueryErrorCode"] = modeled.__name__
            error["Type"] = "Sender" if err.http_status < 500 else "Receiver"
            return error
        for key, value in err.details.items():
            error.setdefault(_detail_name(key), value)
        return error

    def __getattr__(self, name: str) -> type[ClientError]:
        # Only reached for names that are not modeled: fail like botocore does.
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


S3_EXCEPTIONS = ClientExceptions(
    {
        cls.__name__: cls
        for cls in (
            NoSuchKey,
            NoSuchBucket,
            BucketAlreadyExists,
            BucketAlreadyOwnedByYou,
            InvalidObjectState,
            InvalidRequest,
            NoSuchUpload,
            ObjectAlreadyInActiveTierError,
            ObjectNotInActiveTierError,
            TooManyParts,
            EncryptionTypeMismatch,
            IdempotencyParameterMismatch,
            InvalidWriteOffset,
        )
    }
)


# SQS's modeled exceptions (boto3's class names). Their codes are the Query-protocol ones
# SQS still sends, which mostly differ from the class names.
class QueueDoesNotExist(ClientError):
    """The queue URL or name names no queue."""


class QueueNameExists(ClientError):
    """CreateQueue with an existing name but different attributes."""


class QueueDeletedRecently(ClientError):
    """CreateQueue within 60 s of deleting a queue of that name."""


class PurgeQueueInProgress(ClientError):
    """PurgeQueue within 60 s of the previous purge."""


class ReceiptHandleIsInvalid(ClientError):
    """The receipt handle is malformed or not of this queue."""


class MessageNotInflight(ClientError):
    """ChangeMessageVisibility on a message that is not in flight."""


class InvalidAttributeName(ClientError):
    """An unknown queue attribute name."""


class InvalidAttributeValue(ClientError):
    """A queue attribute value out of range or malformed."""


class InvalidMessageContents(ClientError):
    """The message body has characters SQS does not allow."""


class TooManyEntriesInBatchRequest(ClientError):
    """More than 10 entries in a batch."""


class BatchEntryIdsNotDistinct(ClientError):
    """Two entries of a batch share an Id."""


class EmptyBatchRequest(ClientError):
    """A batch without entries."""


class InvalidBatchEntryId(ClientError):
    """An entry Id is not 1-80 letters, digits, hyphens and underscores."""


class BatchRequestTooLong(ClientError):
    """The entries of a batch together exceed the queue's MaximumMessageSize."""


class UnsupportedOperation(ClientError):
    """The operation is not supported for this queue (e.g. FIFO-only parameters)."""


class ResourceNotFoundException(ClientError):
    """A message move task, or the queue it names, does not exist."""


class OverLimit(ClientError):
    """A limit was reached (e.g. too many in-flight messages)."""


class InvalidAddress(ClientError):
    """The queue URL is not a valid address."""


SQS_EXCEPTIONS = ClientExceptions(
    {
        "AWS.SimpleQueueService.NonExistentQueue": QueueDoesNotExist,
        "QueueAlreadyExists": QueueNameExists,
        "AWS.SimpleQueueService.QueueDeletedRecently": QueueDeletedRecently,
        "AWS.SimpleQueueService.PurgeQueueInProgress": PurgeQueueInProgress,
        "ReceiptHandleIsInvalid": ReceiptHandleIsInvalid,
        "AWS.SimpleQueueService.MessageNotInflight": MessageNotInflight,
        "InvalidAttributeName": InvalidAttributeName,
        "InvalidAttributeValue": InvalidAttributeValue,
        "InvalidMessageContents": InvalidMessageContents,
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest": TooManyEntriesInBatchRequest,
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct": BatchEntryIdsNotDistinct,
        "AWS.SimpleQueueService.EmptyBatchRequest": EmptyBatchRequest,
        "AWS.SimpleQueueService.InvalidBatchEntryId": InvalidBatchEntryId,
        "AWS.SimpleQueueService.BatchRequestTooLong": BatchRequestTooLong,
        "AWS.SimpleQueueService.UnsupportedOperation": UnsupportedOperation,
        "ResourceNotFoundException": ResourceNotFoundException,
        "OverLimit": OverLimit,
        "InvalidAddress": InvalidAddress,
    },
    query_compatible=True,
)


# The cache speaks Redis: redis-py raises ResponseError for every error reply, whatever
# the command, and DataError for arguments it refuses to send.
class ResponseError(ClientError):
    """The cache answered with an error (redis.exceptions.ResponseError): incr on a value
    that is not an integer, an invalid expire time, a value over the size limit, ...

    ``str()`` is the message alone, as redis-py shows it; the code (NotAnInteger,
    Overflow, InvalidExpireTime, SyntaxError, ValueTooLarge, KeyTooLarge, OOM) is in
    ``response["Error"]["Code"]``. The client raises it itself, with the server's code,
    for a few values the wire cannot carry (an integer beyond 64 bits)."""

    MSG_TEMPLATE = "{error_message}"


class DataError(ClientError):
    """An argument redis-py refuses before sending (redis.exceptions.DataError): a key or
    value that is not bytes, str, int or float, ``nx`` with ``xx``, ... Code "DataError"."""

    MSG_TEMPLATE = "{error_message}"


class CacheExceptions(ClientExceptions):
    """``cache.exceptions``: every error the service answers with is a ResponseError."""

    ResponseError = ResponseError
    DataError = DataError

    def __init__(self) -> None:
        super().__init__({})

    def from_code(self, error_code: str) -> type[ClientError]:
        return ResponseError


CACHE_EXCEPTIONS = CacheExceptions()


def _detail_name(key: str) -> str:
    return _DETAIL_NAMES.get(key) or "".join(p[:1].upper() + p[1:] for p in key.split("_"))


def response_metadata(status: int) -> dict[str, Any]:
    """The ``ResponseMetadata`` member every boto3 response and error carries."""
    return {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}


def error_from_rpc(
    exc: grpc.RpcError,
    operation_name: str,
    *,
    no_body: bool = False,
    endpoint: str = "",
    exceptions: ClientExceptions | None = None,
) -> ClientError:
    """Turn a failed call into the exception botocore would raise.

    ``no_body`` is for HEAD operations: HTTP sends no error document with them, so
    botocore reports the status code ("404") as the error code. A 304 never has a body
    either, whatever the operation.
    """
    err = EngineError.from_rpc_error(exc)
    transport = err.code == err.grpc_status.name  # no ErrorInfo: not the service speaking
    if transport:
        error: dict[str, Any] = {"Code": err.code, "Message": err.message}
        if err.grpc_status == grpc.StatusCode.UNAVAILABLE:
            error["Message"] = f'Could not connect to the endpoint "{endpoint}": {err.message}'
            if err.message.endswith("Socket closed") and "s://" not in endpoint.lower():
                # what a plaintext client sees of a TLS-only port: say the likely cause
                error["Message"] += " (if the server speaks TLS, use an https:// endpoint)"
            return EndpointConnectionError(
                {"Error": error, "ResponseMetadata": response_metadata(err.http_status)},
                operation_name,
            )
        if err.grpc_status == grpc.StatusCode.DEADLINE_EXCEEDED:
            error["Message"] = f'Read timeout on endpoint "{endpoint}": {err.message}'
            return ReadTimeoutError(
                {"Error": error, "ResponseMetadata": response_metadata(err.http_status)},
                operation_name,
            )
    elif no_body or err.http_status == HTTPStatus.NOT_MODIFIED:
        error = {"Code": str(err.http_status), "Message": _phrase(err.http_status)}
    else:
        error = (exceptions or S3_EXCEPTIONS).error_fields(err)
    response = {"Error": error, "ResponseMetadata": response_metadata(err.http_status)}
    cls = (exceptions or S3_EXCEPTIONS).from_code(error["Code"]) if not transport else ClientError
    return cls(response, operation_name)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
