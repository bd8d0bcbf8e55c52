"""S3 access-control methods with boto3's shapes: bucket policies, bucket and object ACLs,
Block Public Access and Object Ownership.

Mixed into :class:`engine.client.s3.S3Client`. ``acl_spec`` is also what create_bucket,
put_object, copy_object and create_multipart_upload send for their ``ACL=`` and
``Grant*=`` parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client.calls import Caller
from engine.client.errors import ParamValidationError, response_metadata
from engine.client.shapes import ListOf, Struct, validate
from engine.v1 import access_pb2, objects_pb2_grpc
from engine.v1 import objects_pb2 as pb

OWNER = Struct({"DisplayName": str, "ID": str})
GRANTEE = Struct({"DisplayName": str, "EmailAddress": str, "ID": str, "Type": str, "URI": str},
                 required=("Type",))
ACCESS_CONTROL_POLICY = Struct({
    "Grants": ListOf(Struct({"Grantee": GRANTEE, "Permission": str})),
    "Owner": OWNER,
})
PUBLIC_ACCESS_BLOCK = Struct({"BlockPublicAcls": bool, "IgnorePublicAcls": bool,
                              "BlockPublicPolicy": bool, "RestrictPublicBuckets": bool})
OWNERSHIP_CONTROLS = Struct({"Rules": ListOf(Struct({"ObjectOwnership": str},
                                                    required=("ObjectOwnership",)))},
                            required=("Rules",))
_BLOCK_FIELDS = (("BlockPublicAcls", "block_public_acls"),
                 ("IgnorePublicAcls", "ignore_public_acls"),
                 ("BlockPublicPolicy", "block_public_policy"),
                 ("RestrictPublicBuckets", "restrict_public_buckets"))


def acl_spec(acl: str | None = None, grants: Mapping[str, str | None] | None = None,
             policy: Mapping[str, Any] | None = None) -> pb.AclSpec:
    """A request's ACL: ``ACL=`` (canned), ``Grant*=`` (by field name: grant_read=...)
    and, for Put*Acl, ``AccessControlPolicy=``."""
    spec = pb.AclSpec(canned=acl or "", **{k: v for k, v in (grants or {}).items() if v})
    if policy is not None:
        validate(policy, ACCESS_CONTROL_POLICY, "AccessControlPolicy")
        spec.access_control_policy.CopyFrom(pb.AccessControlPolicy(
            owner=pb.Owner(id=policy.get("Owner", {}).get("ID", ""),
                           display_name=policy.get("Owner", {}).get("DisplayName", "")),
            grants=[pb.Grant(permission=g.get("Permission", ""), grantee=pb.Grantee(
                type=g["Grantee"]["Type"], id=g["Grantee"].get("ID", ""),
                uri=g["Grantee"].get("URI", ""),
                email_address=g["Grantee"].get("EmailAddress", ""),
                display_name=g["Grantee"].get("DisplayName", "")))
                for g in policy.get("Grants", [])]))
    return spec


def grant_fields(full_control: str | None, read: str | None, read_acp: str | None,
                 write: str | None, write_acp: str | None) -> dict[str, str | None]:
    return {"grant_full_control": full_control, "grant_read": read,
            "grant_read_acp": read_acp, "grant_write": write, "grant_write_acp": write_acp}


def acl_dict(acl: pb.AccessControlPolicy) -> dict[str, Any]:
    """Owner and Grants as boto3 returns them."""
    owner: dict[str, Any] = {"ID": acl.owner.id}
    if acl.owner.display_name:
        owner["DisplayName"] = acl.owner.display_name
    grants = []
    for grant in acl.grants:
        grantee: dict[str, Any] = {"Type": grant.grantee.type}
        if grant.grantee.id:
            grantee["ID"] = grant.grantee.id
        if grant.grantee.uri:
            grantee["URI"] = grant.grantee.uri
        grants.append({"Grantee": grantee, "Permission": grant.permission})
    return {"Owner": owner, "Grants": grants}


def block_message(config: Mapping[str, Any]) -> access_pb2.PublicAccessBlockConfiguration:
    validate(config, PUBLIC_ACCESS_BLOCK, "PublicAccessBlockConfiguration")
    return access_pb2.PublicAccessBlockConfiguration(
        **{field: bool(config.get(name, False)) for name, field in _BLOCK_FIELDS})


def block_dict(config: access_pb2.PublicAccessBlockConfiguration) -> dict[str, bool]:
    return {name: getattr(config, field) for name, field in _BLOCK_FIELDS}


class PermissionMethods:
    """Bucket policies, ACLs, Block Public Access and Object Ownership."""

    _calls: Caller
    _stub: objects_pb2_grpc.ObjectStoreStub

    # -- bucket policy -------------------------------------------------------------------

    def put_bucket_policy(self, *, Bucket: str, Policy: str,
                          ConfirmRemoveSelfBucketAccess: bool | None = None,
                          ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        """MalformedPolicy for a policy S3 would refuse; AccessDenied for a public one
        while Block Public Access (BlockPublicPolicy) is on."""
        if not isinstance(Policy, str):
            raise ParamValidationError("Parameter validation failed:\nInvalid type for "
                                       f"parameter Policy, value: {Policy}, type: "
                                       f"{type(Policy)}, valid types: <class 'str'>")
        self._calls.unary("PutBucketPolicy", self._stub.PutBucketPolicy, pb.PutBucketPolicyRequest(
            bucket=Bucket, policy=Policy,
            confirm_remove_self_bucket_access=bool(ConfirmRemoveSelfBucketAccess)))
        return {"ResponseMetadata": response_metadata(204)}

    def get_bucket_policy(self, *, Bucket: str,
                          ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        """The policy text as it was put; NoSuchBucketPolicy when there is none."""
        resp = self._calls.unary("GetBucketPolicy", self._stub.GetBucketPolicy,
                                 pb.GetBucketPolicyRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(200), "Policy": resp.policy}

    def delete_bucket_policy(self, *, Bucket: str,
                             ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        self._calls.unary("DeleteBucketPolicy", self._stub.DeleteBucketPolicy,
                          pb.DeleteBucketPolicyRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(204)}

    def get_bucket_policy_status(self, *, Bucket: str,
                                 ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        resp = self._calls.unary("GetBucketPolicyStatus", self._stub.GetBucketPolicyStatus,
                                 pb.GetBucketPolicyStatusRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(200),
                "PolicyStatus": {"IsPublic": resp.is_public}}

    # -- ACLs ----------------------------------------------------------------------------

    def put_bucket_acl(
        self, *, Bucket: str, ACL: str | None = None,
        AccessControlPolicy: Mapping[str, Any] | None = None,
        GrantFullControl: str | None = None, GrantRead: str | None = None,
        GrantReadACP: str | None = None, GrantWrite: str | None = None,
        GrantWriteACP: str | None = None, ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        """AccessControlListNotSupported while the bucket's ownership is
        BucketOwnerEnforced (the default) and the ACL is not the owner's alone."""
        spec = acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP,
                                          GrantWrite, GrantWriteACP), AccessControlPolicy)
        self._calls.unary("PutBucketAcl", self._stub.PutBucketAcl,
                          pb.PutBucketAclRequest(bucket=Bucket, acl=spec))
        return {"ResponseMetadata": response_metadata(200)}

    def get_bucket_acl(self, *, Bucket: str,
                       ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        resp = self._calls.unary("GetBucketAcl", self._stub.GetBucketAcl,
                                 pb.GetBucketAclRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(200), **acl_dict(resp.acl)}

    def put_object_acl(
        self, *, Bucket: str, Key: str, ACL: str | None = None,
        AccessControlPolicy: Mapping[str, Any] | None = None,
        GrantFullControl: str | None = None, GrantRead: str | None = None,
        GrantReadACP: str | None = None, GrantWrite: str | None = None,
        GrantWriteACP: str | None = None, VersionId: str | None = None,
        ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        spec = acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP,
                                          GrantWrite, GrantWriteACP), AccessControlPolicy)
        self._calls.unary("PutObjectAcl", self._stub.PutObjectAcl, pb.PutObjectAclRequest(
            bucket=Bucket, key=Key, version_id=VersionId or "", acl=spec))
        return {"ResponseMetadata": response_metadata(200)}

    def get_object_acl(self, *, Bucket: str, Key: str, VersionId: str | None = None,
                       ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        resp = self._calls.unary("GetObjectAcl", self._stub.GetObjectAcl, pb.GetObjectAclRequest(
            bucket=Bucket, key=Key, version_id=VersionId or ""))
        return {"ResponseMetadata": response_metadata(200), **acl_dict(resp.acl)}

    # -- Block Public Access -------------------------------------------------------------

    def put_public_access_block(self, *, Bucket: str,
                                PublicAccessBlockConfiguration: Mapping[str, Any],
                                ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        """A flag left out is false, as in S3."""
        self._calls.unary("PutPublicAccessBlock", self._stub.PutPublicAccessBlock,
                          pb.PutPublicAccessBlockRequest(
                              bucket=Bucket,
                              configuration=block_message(PublicAccessBlockConfiguration)))
        return {"ResponseMetadata": response_metadata(200)}

    def get_public_access_block(self, *, Bucket: str,
                                ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        """NoSuchPublicAccessBlockConfiguration once deleted (new buckets have all on)."""
        resp = self._calls.unary("GetPublicAccessBlock", self._stub.GetPublicAccessBlock,
                                 pb.GetPublicAccessBlockRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(200),
                "PublicAccessBlockConfiguration": block_dict(resp.configuration)}

    def delete_public_access_block(self, *, Bucket: str,
                                   ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        self._calls.unary("DeletePublicAccessBlock", self._stub.DeletePublicAccessBlock,
                          pb.DeletePublicAccessBlockRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(204)}

    # -- Object Ownership ----------------------------------------------------------------

    def put_bucket_ownership_controls(self, *, Bucket: str,
                                      OwnershipControls: Mapping[str, Any],
                                      ExpectedBucketOwner: str | None = None
                                      ) -> dict[str, Any]:
        validate(OwnershipControls, OWNERSHIP_CONTROLS, "OwnershipControls")
        controls = pb.OwnershipControls(rules=[
            pb.OwnershipControlsRule(object_ownership=r["ObjectOwnership"])
            for r in OwnershipControls["Rules"]])
        self._calls.unary("PutBucketOwnershipControls", self._stub.PutBucketOwnershipControls,
                          pb.PutBucketOwnershipControlsRequest(bucket=Bucket,
                                                               ownership_controls=controls))
        return {"ResponseMetadata": response_metadata(200)}

    def get_bucket_ownership_controls(self, *, Bucket: str,
                                      ExpectedBucketOwner: str | None = None
                                      ) -> dict[str, Any]:
        """OwnershipControlsNotFoundError once deleted (new buckets: BucketOwnerEnforced)."""
        resp = self._calls.unary("GetBucketOwnershipControls",
                                 self._stub.GetBucketOwnershipControls,
                                 pb.GetBucketOwnershipControlsRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(200), "OwnershipControls": {
            "Rules": [{"ObjectOwnership": r.object_ownership}
                      for r in resp.ownership_controls.rules]}}

    def delete_bucket_ownership_controls(self, *, Bucket: str,
                                         ExpectedBucketOwner: str | None = None
                                         ) -> dict[str, Any]:
        self._calls.unary("DeleteBucketOwnershipControls",
                          self._stub.DeleteBucketOwnershipControls,
                          pb.DeleteBucketOwnershipControlsRequest(bucket=Bucket))
        return {"ResponseMetadata": response_metadata(204)}
