"""The ElastiCache client: boto3's method names, members and response dicts for the
user API (RBAC users with Redis ACL access strings) over gRPC.

Code written against ``boto3.client("elasticache")`` for these operations runs unchanged
against ``engine.client.client("elasticache", endpoint=...)``; errors are botocore's
modeled classes (``client.exceptions.UserNotFoundFault``, code ``UserNotFound``) and
describe_users pages with Marker/MaxRecords as botocore's paginator does.
"""

from __future__ import annotations

from engine.client.aws_call import AwsCallClient, operation
from engine.client.errors import ClientError
from engine.client.iam_errors import QueryExceptions
from engine.client.paginate import PaginationModel
from engine.v1 import elasticache_pb2_grpc


class DefaultUserAssociatedToUserGroupFault(ClientError):
    """The default user is assigned to a user group."""


class DefaultUserRequired(ClientError):
    """A user group must contain a user named default."""


class DuplicateUserNameFault(ClientError):
    """A user with this username already exists."""


class InvalidParameterCombinationException(ClientError):
    """Two or more incompatible parameters were specified."""


class InvalidParameterValueException(ClientError):
    """The value for a parameter is invalid."""


class InvalidUserStateFault(ClientError):
    """The user is not in active state."""


class ServiceLinkedRoleNotFoundFault(ClientError):
    """The specified service linked role (SLR) was not found."""


class TagQuotaPerResourceExceeded(ClientError):
    """The request cannot be processed because it would exceed the resource's tag quota."""


class UserAlreadyExistsFault(ClientError):
    """A user with this ID already exists."""


class UserNotFoundFault(ClientError):
    """The user does not exist or could not be found."""


class UserQuotaExceededFault(ClientError):
    """The quota of users has been exceeded."""


ELASTICACHE_EXCEPTIONS = QueryExceptions({
    "DefaultUserAssociatedToUserGroup": DefaultUserAssociatedToUserGroupFault,
    "DefaultUserRequired": DefaultUserRequired,
    "DuplicateUserName": DuplicateUserNameFault,
    "InvalidParameterCombination": InvalidParameterCombinationException,
    "InvalidParameterValue": InvalidParameterValueException,
    "InvalidUserState": InvalidUserStateFault,
    "ServiceLinkedRoleNotFoundFault": ServiceLinkedRoleNotFoundFault,
    "TagQuotaPerResourceExceeded": TagQuotaPerResourceExceeded,
    "UserAlreadyExists": UserAlreadyExistsFault,
    "UserNotFound": UserNotFoundFault,
    "UserQuotaExceeded": UserQuotaExceededFault,
})

AUTH = ("Passwords", "NoPasswordRequired", "AuthenticationMode")
# botocore's paginator: Marker in, Marker out (absent on the last page), MaxRecords.
_PAGINATORS = {"describe_users": PaginationModel(
    input_token="Marker", output_token="Marker", more_results="Marker",
    limit_key="MaxRecords", result_keys=("Users",))}


class ElastiCacheClient(AwsCallClient):
    """An ElastiCache client bound to one endpoint; thread-safe, one gRPC channel."""

    STUB = elasticache_pb2_grpc.ElastiCacheStub
    EXCEPTIONS = ELASTICACHE_EXCEPTIONS
    PAGINATORS = _PAGINATORS

    create_user = operation("CreateUser", ("UserId", "UserName", "Engine", "AccessString"),
                            (*AUTH, "Tags"))
    modify_user = operation("ModifyUser", ("UserId",),
                            ("AccessString", "AppendAccessString", *AUTH, "Engine"))
    delete_user = operation("DeleteUser", ("UserId",))
    describe_users = operation("DescribeUsers", (),
                               ("Engine", "UserId", "Filters", "MaxRecords", "Marker"))
