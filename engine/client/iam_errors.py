"""IAM's and STS's modeled exceptions, as botocore generates them from the service
models: a boto3 user writes ``except iam.exceptions.NoSuchEntityException``. The class
is picked by the error code the service answers with (``NoSuchEntity``), which differs
from the class name.

Both are Query-protocol services, whose error document botocore parses into
``{"Type": "Sender" | "Receiver", "Code": ..., "Message": ...}``.
"""

from __future__ import annotations

from typing import Any

from engine.client.errors import ClientError, ClientExceptions
from engine.errors import EngineError


class QueryExceptions(ClientExceptions):
    """Modeled exceptions of a Query-protocol service: the Error member carries Type."""

    def error_fields(self, err: EngineError) -> dict[str, Any]:
        return {"Type": "Sender" if err.http_status < 500 else "Receiver",
                "Code": err.code, "Message": err.message}


class ConcurrentModificationException(ClientError):
    """Another request changed the same entity at the same time."""


class DeleteConflictException(ClientError):
    """The entity still has what must go first (keys, policies, members)."""


class EntityAlreadyExistsException(ClientError):
    """A user, group, role or policy of that name exists already."""


class EntityTemporarilyUnmodifiableException(ClientError):
    """The entity is being changed and cannot be modified right now."""


class InvalidInputException(ClientError):
    """A parameter is invalid (a malformed ARN, say)."""


class LimitExceededException(ClientError):
    """An account or entity quota would be exceeded (keys per user, versions, tags)."""


class MalformedPolicyDocumentException(ClientError):
    """The policy document is not valid JSON or not a valid policy."""


class NoSuchEntityException(ClientError):
    """The user, group, role, policy, version or access key does not exist."""


class PolicyNotAttachableException(ClientError):
    """The managed policy cannot be attached."""


class ServiceFailureException(ClientError):
    """The service failed."""


class UnmodifiableEntityException(ClientError):
    """The entity is protected (service-linked) and cannot be changed."""


IAM_EXCEPTIONS = QueryExceptions({
    "ConcurrentModification": ConcurrentModificationException,
    "DeleteConflict": DeleteConflictException,
    "EntityAlreadyExists": EntityAlreadyExistsException,
    "EntityTemporarilyUnmodifiable": EntityTemporarilyUnmodifiableException,
    "InvalidInput": InvalidInputException,
    "LimitExceeded": LimitExceededException,
    "MalformedPolicyDocument": MalformedPolicyDocumentException,
    "NoSuchEntity": NoSuchEntityException,
    "PolicyNotAttachable": PolicyNotAttachableException,
    "ServiceFailure": ServiceFailureException,
    "UnmodifiableEntity": UnmodifiableEntityException,
})


class ExpiredTokenException(ClientError):
    """The session token of the calling credentials has expired."""


class PackedPolicyTooLargeException(ClientError):
    """The session policy and tags are too large once packed."""


class RegionDisabledException(ClientError):
    """STS is not enabled in the region."""


STS_EXCEPTIONS = QueryExceptions({
    "ExpiredTokenException": ExpiredTokenException,
    "MalformedPolicyDocument": MalformedPolicyDocumentException,
    "PackedPolicyTooLarge": PackedPolicyTooLargeException,
    "RegionDisabledException": RegionDisabledException,
})
