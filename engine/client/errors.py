"""Exceptions the SDK raises, shaped like botocore's so boto3 error handling ports unchanged.

Wire decoding is :meth:`engine.errors.EngineError.from_rpc_error`; this module only turns
the decoded error into botocore's ``ClientError.response`` layout and picks the class.
"""

from __future__ import annotations

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
    """``client.exceptions``: the modeled classes of one service, looked up by code."""

    ClientError = ClientError

    def __init__(self, modeled: dict[str, type[ClientError]]) -> None:
        self._by_code = dict(modeled)
        for name, cls in modeled.items():
            setattr(self, name, cls)

    def from_code(self, error_code: str) -> type[ClientError]:
        return self._by_code.get(error_code, ClientError)

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
        error = {"Code": err.code, "Message": err.message}
        for key, value in err.details.items():
            error.setdefault(_detail_name(key), value)
    response = {"Error": error, "ResponseMetadata": response_metadata(err.http_status)}
    cls = (exceptions or S3_EXCEPTIONS).from_code(error["Code"]) if not transport else ClientError
    return cls(response, operation_name)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
