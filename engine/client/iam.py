"""The IAM client: boto3's IAM method names, members and response dicts over gRPC.

Code written against ``boto3.client("iam")`` for these operations runs unchanged against
``engine.client.client("iam", endpoint=...)``. Each operation below is one line: its
action, required members, then optional ones (IAM API Reference names); the list
operations page with IAM's Marker/MaxItems and have botocore's paginators.
"""

from __future__ import annotations

from engine.client.aws_call import AwsCallClient, operation
from engine.client.iam_errors import IAM_EXCEPTIONS
from engine.client.paginate import PaginationModel
from engine.v1 import iam_pb2_grpc

PAGE = ("Marker", "MaxItems")
LISTING = ("PathPrefix", *PAGE)


def _marker(result_key: str) -> PaginationModel:
    return PaginationModel(input_token="Marker", output_token="Marker",
                           more_results="IsTruncated", limit_key="MaxItems",
                           result_keys=(result_key,))


_PAGINATORS = {
    "get_group": _marker("Users"),
    "list_access_keys": _marker("AccessKeyMetadata"),
    "list_attached_group_policies": _marker("AttachedPolicies"),
    "list_attached_role_policies": _marker("AttachedPolicies"),
    "list_attached_user_policies": _marker("AttachedPolicies"),
    "list_group_policies": _marker("PolicyNames"),
    "list_groups": _marker("Groups"),
    "list_groups_for_user": _marker("Groups"),
    "list_policies": _marker("Policies"),
    "list_policy_versions": _marker("Versions"),
    "list_role_policies": _marker("PolicyNames"),
    "list_roles": _marker("Roles"),
    "list_user_policies": _marker("PolicyNames"),
    "list_users": _marker("Users"),
    "simulate_custom_policy": _marker("EvaluationResults"),
    "simulate_principal_policy": _marker("EvaluationResults"),
}
SIMULATION = ("PermissionsBoundaryPolicyInputList", "ResourceArns", "ResourcePolicy",
              "ResourceOwner", "CallerArn", "ContextEntries", "ResourceHandlingOption", *PAGE)


class IAMClient(AwsCallClient):
    """An IAM client bound to one endpoint; thread-safe, one gRPC channel, reusable."""

    STUB = iam_pb2_grpc.IamStub
    EXCEPTIONS = IAM_EXCEPTIONS
    PAGINATORS = _PAGINATORS

    # -- users and groups ----------------------------------------------------------------
    create_user = operation("CreateUser", ("UserName",), ("Path", "PermissionsBoundary", "Tags"))
    get_user = operation("GetUser", (), ("UserName",))
    list_users = operation("ListUsers", (), LISTING)
    delete_user = operation("DeleteUser", ("UserName",))
    create_group = operation("CreateGroup", ("GroupName",), ("Path",))
    get_group = operation("GetGroup", ("GroupName",), PAGE)
    list_groups = operation("ListGroups", (), LISTING)
    list_groups_for_user = operation("ListGroupsForUser", ("UserName",), PAGE)
    delete_group = operation("DeleteGroup", ("GroupName",))
    add_user_to_group = operation("AddUserToGroup", ("GroupName", "UserName"))
    remove_user_from_group = operation("RemoveUserFromGroup", ("GroupName", "UserName"))

    # -- roles ---------------------------------------------------------------------------
    create_role = operation(
        "CreateRole", ("RoleName", "AssumeRolePolicyDocument"),
        ("Path", "Description", "MaxSessionDuration", "PermissionsBoundary", "Tags"))
    get_role = operation("GetRole", ("RoleName",))
    list_roles = operation("ListRoles", (), LISTING)
    delete_role = operation("DeleteRole", ("RoleName",))
    update_assume_role_policy = operation("UpdateAssumeRolePolicy",
                                          ("RoleName", "PolicyDocument"))
    update_role = operation("UpdateRole", ("RoleName",), ("Description", "MaxSessionDuration"))

    # -- access keys ---------------------------------------------------------------------
    create_access_key = operation("CreateAccessKey", (), ("UserName",))
    list_access_keys = operation("ListAccessKeys", (), ("UserName", *PAGE))
    update_access_key = operation("UpdateAccessKey", ("AccessKeyId", "Status"), ("UserName",))
    delete_access_key = operation("DeleteAccessKey", ("AccessKeyId",), ("UserName",))
    get_access_key_last_used = operation("GetAccessKeyLastUsed", ("AccessKeyId",))

    # -- managed policies and their versions ---------------------------------------------
    create_policy = operation("CreatePolicy", ("PolicyName", "PolicyDocument"),
                              ("Path", "Description", "Tags"))
    get_policy = operation("GetPolicy", ("PolicyArn",))
    list_policies = operation("ListPolicies", (), ("Scope", "OnlyAttached", "PolicyUsageFilter",
                                                   *LISTING))
    delete_policy = operation("DeletePolicy", ("PolicyArn",))
    create_policy_version = operation("CreatePolicyVersion", ("PolicyArn", "PolicyDocument"),
                                      ("SetAsDefault",))
    get_policy_version = operation("GetPolicyVersion", ("PolicyArn", "VersionId"))
    list_policy_versions = operation("ListPolicyVersions", ("PolicyArn",), PAGE)
    delete_policy_version = operation("DeletePolicyVersion", ("PolicyArn", "VersionId"))
    set_default_policy_version = operation("SetDefaultPolicyVersion",
                                           ("PolicyArn", "VersionId"))

    # -- attached (managed) policies -----------------------------------------------------
    attach_user_policy = operation("AttachUserPolicy", ("UserName", "PolicyArn"))
    detach_user_policy = operation("DetachUserPolicy", ("UserName", "PolicyArn"))
    list_attached_user_policies = operation("ListAttachedUserPolicies", ("UserName",), LISTING)
    attach_group_policy = operation("AttachGroupPolicy", ("GroupName", "PolicyArn"))
    detach_group_policy = operation("DetachGroupPolicy", ("GroupName", "PolicyArn"))
    list_attached_group_policies = operation("ListAttachedGroupPolicies", ("GroupName",),
                                             LISTING)
    attach_role_policy = operation("AttachRolePolicy", ("RoleName", "PolicyArn"))
    detach_role_policy = operation("DetachRolePolicy", ("RoleName", "PolicyArn"))
    list_attached_role_policies = operation("ListAttachedRolePolicies", ("RoleName",), LISTING)

    # -- inline policies -----------------------------------------------------------------
    put_user_policy = operation("PutUserPolicy", ("UserName", "PolicyName", "PolicyDocument"))
    get_user_policy = operation("GetUserPolicy", ("UserName", "PolicyName"))
    delete_user_policy = operation("DeleteUserPolicy", ("UserName", "PolicyName"))
    list_user_policies = operation("ListUserPolicies", ("UserName",), PAGE)
    put_group_policy = operation("PutGroupPolicy",
                                 ("GroupName", "PolicyName", "PolicyDocument"))
    get_group_policy = operation("GetGroupPolicy", ("GroupName", "PolicyName"))
    delete_group_policy = operation("DeleteGroupPolicy", ("GroupName", "PolicyName"))
    list_group_policies = operation("ListGroupPolicies", ("GroupName",), PAGE)
    put_role_policy = operation("PutRolePolicy", ("RoleName", "PolicyName", "PolicyDocument"))
    get_role_policy = operation("GetRolePolicy", ("RoleName", "PolicyName"))
    delete_role_policy = operation("DeleteRolePolicy", ("RoleName", "PolicyName"))
    list_role_policies = operation("ListRolePolicies", ("RoleName",), PAGE)

    # -- the policy simulator ------------------------------------------------------------
    simulate_principal_policy = operation("SimulatePrincipalPolicy",
                                          ("PolicySourceArn", "ActionNames"),
                                          ("PolicyInputList", *SIMULATION))
    simulate_custom_policy = operation("SimulateCustomPolicy",
                                       ("PolicyInputList", "ActionNames"), SIMULATION)
