"""AWS-style errors and their gRPC wire form.

Every failure a user can cause is an :class:`EngineError` carrying the AWS error code
(``NoSuchKey``), the HTTP status AWS would send, and a gRPC status. On the wire it is a
gRPC status whose details hold a ``google.rpc.ErrorInfo``: ``reason`` is the AWS code and
``metadata`` carries ``http_status`` plus whatever identifies the resource. Encoding and
decoding live together here so server and SDK can never disagree.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

C = grpc.StatusCode
ERROR_DOMAIN = "engine.v1"

# code -> (HTTP status, gRPC status, AWS's default message)
CATALOGUE: dict[str, tuple[int, grpc.StatusCode, str]] = {
    # S3
    "AccessDenied": (403, C.PERMISSION_DENIED, "Access Denied"),
    "BadRequest": (400, C.INVALID_ARGUMENT, "Bad Request"),
    "BadDigest": (
        400,
        C.INVALID_ARGUMENT,
        "The Content-MD5 or checksum value you specified did not match what we received.",
    ),
    "BucketAlreadyExists": (
        409,
        C.ALREADY_EXISTS,
        "The requested bucket name is not available. Please select a different name.",
    ),
    "BucketAlreadyOwnedByYou": (
        409,
        C.ALREADY_EXISTS,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, C.FAILED_PRECONDITION, "The bucket you tried to delete is not empty"),
    "ConditionalRequestConflict": (
        409,
        C.ABORTED,
        "A conflicting operation occurred. If using PutObject you can retry the request.",
    ),
    "EntityTooSmall": (
        400,
        C.INVALID_ARGUMENT,
        "Your proposed upload is smaller than the minimum allowed object size.",
    ),
    "IllegalVersioningConfigurationException": (
        400,
        C.INVALID_ARGUMENT,
        "The versioning configuration specified in the request is invalid.",
    ),
    "EntityTooLarge": (
        400,
        C.INVALID_ARGUMENT,
        "Your proposed upload exceeds the maximum allowed object size.",
    ),
    "IncompleteBody": (
        400,
        C.INVALID_ARGUMENT,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    "InternalError": (500, C.INTERNAL, "We encountered an internal error. Please try again."),
    "InvalidArgument": (400, C.INVALID_ARGUMENT, "Invalid Argument"),
    "InvalidBucketName": (400, C.INVALID_ARGUMENT, "The specified bucket is not valid."),
    "InvalidDigest": (400, C.INVALID_ARGUMENT, "The Content-MD5 you specified is not valid."),
    "InvalidObjectState": (
        403,
        C.FAILED_PRECONDITION,
        "The operation is not valid for the object's storage class.",
    ),
    "InvalidPart": (
        400,
        C.INVALID_ARGUMENT,
        "One or more of the specified parts could not be found. The part might not have "
        "been uploaded, or the specified entity tag might not have matched the part's "
        "entity tag.",
    ),
    "InvalidPartNumber": (416, C.OUT_OF_RANGE, "The requested partnumber is not satisfiable"),
    "InvalidPartOrder": (
        400,
        C.INVALID_ARGUMENT,
        "The list of parts was not in ascending order. The parts list must be specified in "
        "order by part number.",
    ),
    "InvalidRange": (416, C.OUT_OF_RANGE, "The requested range is not satisfiable"),
    "InvalidRequest": (400, C.INVALID_ARGUMENT, "Invalid Request"),
    "InvalidTag": (400, C.INVALID_ARGUMENT, "The tag provided was not a valid tag."),
    "InvalidStorageClass": (
        400,
        C.INVALID_ARGUMENT,
        "The storage class you specified is not valid",
    ),
    "KeyTooLongError": (400, C.INVALID_ARGUMENT, "Your key is too long"),
    "MalformedXML": (
        400,
        C.INVALID_ARGUMENT,
        "The XML you provided was not well-formed or did not validate against our "
        "published schema",
    ),
    "MetadataTooLarge": (
        400,
        C.INVALID_ARGUMENT,
        "Your metadata headers exceed the maximum allowed metadata size",
    ),
    "MethodNotAllowed": (
        405,
        C.FAILED_PRECONDITION,
        "The specified method is not allowed against this resource.",
    ),
    "MissingRequestBodyError": (400, C.INVALID_ARGUMENT, "Request Body is empty"),
    "NoSuchBucket": (404, C.NOT_FOUND, "The specified bucket does not exist"),
    "NoSuchKey": (404, C.NOT_FOUND, "The specified key does not exist."),
    "NoSuchLifecycleConfiguration": (
        404, C.NOT_FOUND, "The lifecycle configuration does not exist."
    ),
    "NoSuchUpload": (
        404,
        C.NOT_FOUND,
        "The specified multipart upload does not exist. The upload ID might be invalid, or "
        "the multipart upload might have been aborted or completed.",
    ),
    "NoSuchVersion": (
        404,
        C.NOT_FOUND,
        "The version ID specified in the request does not match an existing version.",
    ),
    "NotImplemented": (
        501,
        C.UNIMPLEMENTED,
        "A header you provided implies functionality that is not implemented",
    ),
    # S3 over HTTP (engine/api/s3/): what only the REST wire can get wrong.
    "InvalidURI": (400, C.INVALID_ARGUMENT, "Couldn't parse the specified URI."),
    "RequestHeaderSectionTooLarge": (
        400, C.INVALID_ARGUMENT, "Your request header section exceeds the maximum allowed size."
    ),
    "MaxMessageLengthExceeded": (400, C.INVALID_ARGUMENT, "Your request was too big."),
    "InvalidLocationConstraint": (
        400, C.INVALID_ARGUMENT, "The specified location-constraint is not valid"
    ),
    "IllegalLocationConstraintException": (
        400,
        C.INVALID_ARGUMENT,
        "The unspecified location constraint is incompatible for the region specific "
        "endpoint this request was sent to.",
    ),
    # S3 access control (engine/iam/acl.py, ownership.py, public_access.py)
    "AccessControlListNotSupported": (400, C.INVALID_ARGUMENT, "The bucket does not allow ACLs"),
    "InvalidBucketAclWithObjectOwnership": (
        400,
        C.INVALID_ARGUMENT,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    ),
    "UnresolvableGrantByEmailAddress": (
        400,
        C.INVALID_ARGUMENT,
        "The email address that you provided does not match any account on record.",
    ),
    "NoSuchBucketPolicy": (404, C.NOT_FOUND, "The bucket policy does not exist"),
    # S3 bucket settings of the REST API (engine/objects/bucket_settings.py)
    "NoSuchTagSet": (404, C.NOT_FOUND, "The TagSet does not exist"),
    "NoSuchCORSConfiguration": (404, C.NOT_FOUND, "The CORS configuration does not exist"),
    "NoSuchWebsiteConfiguration": (
        404, C.NOT_FOUND, "The specified bucket does not have a website configuration"
    ),
    "AccessForbidden": (
        403, C.PERMISSION_DENIED, "CORSResponse: This CORS request is not allowed."
    ),
    "MissingSecurityHeader": (
        400, C.INVALID_ARGUMENT, "Your request was missing a required header"
    ),
    "MalformedACLError": (
        400,
        C.INVALID_ARGUMENT,
        "The XML you provided was not well-formed or did not validate against our "
        "published schema",
    ),
    "NoSuchPublicAccessBlockConfiguration": (
        404,
        C.NOT_FOUND,
        "The public access block configuration was not found",
    ),
    "OwnershipControlsNotFoundError": (
        404,
        C.NOT_FOUND,
        "The bucket ownership controls were not found",
    ),
    "MalformedPolicy": (400, C.INVALID_ARGUMENT, "Policy has invalid resource."),
    "PolicyTooLarge": (
        400,
        C.INVALID_ARGUMENT,
        "Policy exceeds the maximum allowed document size.",
    ),
    # Not an error in HTTP, but GET/HEAD with a failed If-None-Match/If-Modified-Since
    # returns no body; botocore surfaces it as ClientError with code "304".
    "NotModified": (304, C.FAILED_PRECONDITION, "Not Modified"),
    "ObjectAlreadyInActiveTierError": (
        403, C.FAILED_PRECONDITION, "This operation is not allowed against this storage tier."
    ),
    "PreconditionFailed": (
        412,
        C.FAILED_PRECONDITION,
        "At least one of the pre-conditions you specified did not hold",
    ),
    "RestoreAlreadyInProgress": (
        409, C.ALREADY_EXISTS, "Object restore is already in progress"
    ),
    "ServiceUnavailable": (503, C.UNAVAILABLE, "Please reduce your request rate."),
    "SlowDown": (503, C.UNAVAILABLE, "Please reduce your request rate."),
    "RequestTimeout": (
        400,
        C.DEADLINE_EXCEEDED,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.",
    ),
    # SQS: the codes boto3 reports (the query protocol's, kept by AWS's JSON protocol
    # through x-amzn-query-error), with the SQS API Reference's descriptions.
    "AWS.SimpleQueueService.NonExistentQueue": (
        400, C.NOT_FOUND, "The specified queue does not exist."
    ),
    "QueueAlreadyExists": (
        400,
        C.ALREADY_EXISTS,
        "A queue with this name already exists. Amazon SQS returns this error only if the "
        "request includes attributes whose values differ from those of the existing queue.",
    ),
    "AWS.SimpleQueueService.QueueDeletedRecently": (
        400,
        C.FAILED_PRECONDITION,
        "You must wait 60 seconds after deleting a queue before you can create another "
        "queue with the same name.",
    ),
    "AWS.SimpleQueueService.PurgeQueueInProgress": (
        403,
        C.FAILED_PRECONDITION,
        "Indicates that the specified queue previously received a PurgeQueue request within "
        "the last 60 seconds (the time it can take to delete the messages in the queue).",
    ),
    "InvalidParameterValue": (
        400,
        C.INVALID_ARGUMENT,
        "An invalid or out-of-range value was supplied for the input parameter.",
    ),
    "InvalidAttributeName": (400, C.INVALID_ARGUMENT, "The specified attribute doesn't exist."),
    "InvalidAttributeValue": (400, C.INVALID_ARGUMENT, "A queue attribute value is invalid."),
    "MissingParameter": (
        400,
        C.INVALID_ARGUMENT,
        "A required parameter for the specified action is not supplied.",
    ),
    "InvalidMessageContents": (
        400,
        C.INVALID_ARGUMENT,
        "The message contains characters outside the allowed set.",
    ),
    "InvalidAddress": (400, C.INVALID_ARGUMENT, "The specified ID is invalid."),
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest": (
        400,
        C.INVALID_ARGUMENT,
        "The batch request contains more entries than permissible.",
    ),
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct": (
        400,
        C.INVALID_ARGUMENT,
        "Two or more batch entries in the request have the same Id.",
    ),
    "AWS.SimpleQueueService.EmptyBatchRequest": (
        400, C.INVALID_ARGUMENT, "The batch request doesn't contain any entries."
    ),
    "AWS.SimpleQueueService.InvalidBatchEntryId": (
        400,
        C.INVALID_ARGUMENT,
        "The Id of a batch entry in a batch request doesn't abide by the specification.",
    ),
    "AWS.SimpleQueueService.BatchRequestTooLong": (
        400,
        C.INVALID_ARGUMENT,
        "The length of all the messages put together is more than the limit.",
    ),
    "ReceiptHandleIsInvalid": (
        400, C.INVALID_ARGUMENT, "The specified receipt handle isn't valid."
    ),
    "AWS.SimpleQueueService.MessageNotInflight": (
        400, C.FAILED_PRECONDITION, "The specified message isn't in flight."
    ),
    "AWS.SimpleQueueService.UnsupportedOperation": (
        400, C.INVALID_ARGUMENT, "Error code 400. Unsupported operation."
    ),
    "ResourceNotFoundException": (
        400, C.NOT_FOUND, "One or more specified resources don't exist."
    ),
    "OverLimit": (
        403,
        C.RESOURCE_EXHAUSTED,
        "The specified action violates a limit. For example, ReceiveMessage returns this "
        "error if the maximum number of in flight messages is reached.",
    ),
    # Authentication (engine/iam/signature*.py): S3's codes, as every AWS SDK knows them.
    "AuthorizationHeaderMalformed": (
        400,
        C.INVALID_ARGUMENT,
        "The authorization header that you provided is not valid.",
    ),
    "AuthorizationQueryParametersError": (
        400,
        C.INVALID_ARGUMENT,
        "The authorization query parameters that you provided are not valid.",
    ),
    "InvalidAccessKeyId": (
        403,
        C.UNAUTHENTICATED,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "SignatureDoesNotMatch": (
        403,
        C.UNAUTHENTICATED,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "RequestTimeTooSkewed": (
        403,
        C.UNAUTHENTICATED,
        "The difference between the request time and the current time is too large.",
    ),
    "XAmzContentSHA256Mismatch": (
        400,
        C.INVALID_ARGUMENT,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    "MissingContentLength": (
        411,
        C.INVALID_ARGUMENT,
        "You must provide the Content-Length HTTP header.",
    ),
    "MissingAuthenticationToken": (
        403,
        C.UNAUTHENTICATED,
        "Request is missing Authentication Token",
    ),
    "InvalidClientTokenId": (
        403,
        C.UNAUTHENTICATED,
        "The security token included in the request is invalid.",
    ),
    "ExpiredToken": (
        400,
        C.UNAUTHENTICATED,
        "The security token included in the request is expired",
    ),
    "InvalidAction": (
        400,
        C.INVALID_ARGUMENT,
        "The action or operation requested is invalid. Verify that the action is typed "
        "correctly.",
    ),
    # IAM and STS (engine/iam/): the codes of the IAM and STS API References.
    "EntityAlreadyExists": (
        409,
        C.ALREADY_EXISTS,
        "The request was rejected because it attempted to create a resource that already "
        "exists.",
    ),
    "NoSuchEntity": (
        404,
        C.NOT_FOUND,
        "The request was rejected because it referenced a resource entity that does not "
        "exist.",
    ),
    "DeleteConflict": (
        409,
        C.FAILED_PRECONDITION,
        "The request was rejected because it attempted to delete a resource that has "
        "attached subordinate entities.",
    ),
    "LimitExceeded": (
        409,
        C.RESOURCE_EXHAUSTED,
        "The request was rejected because it attempted to create resources beyond the "
        "current AWS account limits.",
    ),
    "MalformedPolicyDocument": (
        400,
        C.INVALID_ARGUMENT,
        "The request was rejected because the policy document was malformed.",
    ),
    "InvalidInput": (
        400,
        C.INVALID_ARGUMENT,
        "The request was rejected because an invalid or out-of-range value was supplied "
        "for an input parameter.",
    ),
    "ValidationError": (400, C.INVALID_ARGUMENT, "1 validation error detected"),
    "PackedPolicyTooLarge": (
        400,
        C.INVALID_ARGUMENT,
        "The request was rejected because the total packed size of the session policies "
        "and session tags combined was too large.",
    ),
    # ElastiCache RBAC users (engine/iam/service/cache_users.py): the ElastiCache API
    # Reference's codes. InvalidParameterValue is SQS's entry above (same code, same 400).
    "UserAlreadyExists": (400, C.ALREADY_EXISTS, "A user with this ID already exists."),
    "UserNotFound": (404, C.NOT_FOUND, "The user does not exist or could not be found."),
    "DuplicateUserName": (400, C.ALREADY_EXISTS, "A user with this username already exists."),
    "UserQuotaExceeded": (400, C.RESOURCE_EXHAUSTED, "The quota of users has been exceeded."),
    "InvalidParameterCombination": (
        400, C.INVALID_ARGUMENT, "Two or more incompatible parameters were specified."
    ),
    "InvalidUserState": (400, C.FAILED_PRECONDITION, "The user is not in active state."),
    "DefaultUserRequired": (
        400, C.FAILED_PRECONDITION, "You must add default user to a user group."
    ),
    # Cache (Redis semantics): Redis's error replies, named by what went wrong.
    "NotAnInteger": (400, C.INVALID_ARGUMENT, "value is not an integer or out of range"),
    "Overflow": (400, C.INVALID_ARGUMENT, "increment or decrement would overflow"),
    "InvalidExpireTime": (400, C.INVALID_ARGUMENT, "invalid expire time"),
    "SyntaxError": (400, C.INVALID_ARGUMENT, "syntax error"),
    "ValueTooLarge": (400, C.INVALID_ARGUMENT, "string exceeds maximum allowed size"),
    "KeyTooLarge": (400, C.INVALID_ARGUMENT, "key exceeds maximum allowed size"),
    # Redis's own prefix, not ERR: the message is the whole reply text after the "-".
    "WrongType": (
        400, C.FAILED_PRECONDITION,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ),
    "NotAFloat": (400, C.INVALID_ARGUMENT, "value is not a valid float"),
    "CrossSlot": (
        400, C.INVALID_ARGUMENT, "CROSSSLOT Keys in request don't hash to the same slot"
    ),
    "UnknownCommand": (400, C.INVALID_ARGUMENT, "unknown command"),
    "OOM": (
        400,
        C.RESOURCE_EXHAUSTED,
        "OOM command not allowed when used memory > 'maxmemory'.",
    ),
    # Between cache nodes only (engine/cache/lease.py); callers never see these.
    "TryAgain": (503, C.UNAVAILABLE, "the slot's primary holds its lease: try it again"),
    "LeaseExpired": (
        409, C.FAILED_PRECONDITION, "the primary's lease has expired: copy refused"
    ),
}


# Echoed client input (a bucket name, a receipt handle) is clipped to these UTF-8 sizes on
# the wire, as AWS shortens what it echoes: gRPC carries status text and details in
# trailing metadata (the message percent-encoded, the details base64), and a client
# drops a status whose trailers pass 8 KiB, reporting RESOURCE_EXHAUSTED instead.
MAX_MESSAGE_BYTES = 1024
MAX_VALUE_BYTES = 1024
MAX_DETAILS_BYTES = 2048
ELLIPSIS = "..."


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), with an
    ellipsis when anything was cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:max(0, limit - len(ELLIPSIS))].decode("utf-8", "ignore") + ELLIPSIS


class EngineError(Exception):
    """A failure with an AWS error code; raised by services, rendered by the api layer."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        http_status: int | None = None,
        grpc_status: grpc.StatusCode | None = None,
        **details: str,
    ) -> None:
        known = CATALOGUE.get(code, (500, C.INTERNAL, code))
        self.code = code
        self.message = message or known[2]
        self.http_status = http_status or known[0]
        self.grpc_status = grpc_status or known[1]
        self.details = {k: str(v) for k, v in details.items()}
        super().__init__(f"{code}: {self.message}")

    def to_rpc_status(self) -> status_pb2.Status:
        """The google.rpc.Status a servicer aborts with. The message and the details
        travel in trailing metadata, which a gRPC client refuses past 8-16 KiB: echoed
        client input is clipped (see :func:`clip`) so the AWS code always arrives."""
        budget = MAX_DETAILS_BYTES
        metadata = {"http_status": str(self.http_status)}
        for name, value in self.details.items():
            metadata[name] = clip(value, max(min(MAX_VALUE_BYTES, budget), len(ELLIPSIS)))
            budget -= len(metadata[name].encode("utf-8", "replace"))
        info = error_details_pb2.ErrorInfo(reason=self.code, domain=ERROR_DOMAIN,
                                           metadata=metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        return status_pb2.Status(code=self.grpc_status.value[0],
                                 message=clip(self.message, MAX_MESSAGE_BYTES),
                                 details=[detail])

    @classmethod
    def from_rpc_error(cls, exc: grpc.RpcError) -> EngineError:
        """Decode a failed call; errors without our detail (deadline, transport) keep
        their gRPC status name as the code so callers can still branch on it."""
        # grpc.Call (sync stubs) and grpc.aio.AioRpcError (asyncio stubs) have the same
        # accessors, but the latter is not a grpc.Call.
        call = isinstance(exc, grpc.Call | grpc.aio.AioRpcError)
        try:
            status = rpc_status.from_call(exc) if call else None  # type: ignore[arg-type]
        except ValueError:  # a detail that contradicts the call's own status: ignore it
            status = None
        grpc_code: grpc.StatusCode = exc.code() if call else C.UNKNOWN  # type: ignore[attr-defined]
        message = exc.details() if call else str(exc)  # type: ignore[attr-defined]
        if status is not None:
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                    meta = dict(info.metadata)
                    http = int(meta.pop("http_status", "500"))
                    return cls(
                        info.reason,
                        status.message,
                        http_status=http,
                        grpc_status=grpc_code,
                        **meta,
                    )
        http = _HTTP_FOR_GRPC.get(grpc_code, 500)
        return cls(grpc_code.name, message or grpc_code.name, http_status=http,
                   grpc_status=grpc_code)


_HTTP_FOR_GRPC: dict[Any, int] = {
    C.DEADLINE_EXCEEDED: 504,
    C.UNAVAILABLE: 503,
    C.RESOURCE_EXHAUSTED: 503,
    C.CANCELLED: 499,
    C.UNIMPLEMENTED: 501,
    C.INVALID_ARGUMENT: 400,
    C.NOT_FOUND: 404,
    C.PERMISSION_DENIED: 403,
    C.UNAUTHENTICATED: 401,
}
