"""The actions a policy may name, per service prefix, and the condition keys each supports.

Policy validation refuses an unknown action of a service we know (``s3:GetObjekt``) the
way IAM's validator does, so a typo cannot silently grant nothing. Names and condition
keys follow AWS's Service Authorization Reference ("Actions, resources, and condition
keys for ..."); actions of other services (``ec2:...``) are not checked. The ``engine``
prefix is ours: operator commands, provisional until the admin API settles.
"""

from __future__ import annotations

import re
from functools import cache

_S3 = """
AbortMultipartUpload AssociateAccessGrantsIdentityCenter BypassGovernanceRetention
CreateAccessGrant CreateAccessGrantsInstance CreateAccessGrantsLocation CreateAccessPoint
CreateAccessPointForObjectLambda CreateBucket CreateBucketMetadataTableConfiguration CreateJob
CreateMultiRegionAccessPoint CreateStorageLensGroup DeleteAccessGrant DeleteAccessGrantsInstance
DeleteAccessGrantsInstanceResourcePolicy DeleteAccessGrantsLocation DeleteAccessPoint
DeleteAccessPointForObjectLambda DeleteAccessPointPolicy DeleteAccessPointPolicyForObjectLambda
DeleteBucket DeleteBucketMetadataTableConfiguration DeleteBucketPolicy DeleteBucketWebsite
DeleteJobTagging DeleteMultiRegionAccessPoint DeleteObject DeleteObjectTagging
DeleteObjectVersion DeleteObjectVersionTagging DeleteStorageLensConfiguration
DeleteStorageLensConfigurationTagging DeleteStorageLensGroup DescribeJob
DescribeMultiRegionAccessPointOperation DissociateAccessGrantsIdentityCenter
GetAccelerateConfiguration GetAccessGrant GetAccessGrantsInstance
GetAccessGrantsInstanceForPrefix GetAccessGrantsInstanceResourcePolicy GetAccessGrantsLocation
GetAccessPoint GetAccessPointConfigurationForObjectLambda GetAccessPointForObjectLambda
GetAccessPointPolicy GetAccessPointPolicyForObjectLambda GetAccessPointPolicyStatus
GetAccessPointPolicyStatusForObjectLambda GetAccountPublicAccessBlock GetAnalyticsConfiguration
GetBucketAcl GetBucketCORS GetBucketLocation GetBucketLogging
GetBucketMetadataTableConfiguration GetBucketNotification GetBucketObjectLockConfiguration
GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus GetBucketPublicAccessBlock
GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite GetDataAccess
GetEncryptionConfiguration GetIntelligentTieringConfiguration GetInventoryConfiguration
GetJobTagging GetLifecycleConfiguration GetMetricsConfiguration GetMultiRegionAccessPoint
GetMultiRegionAccessPointPolicy GetMultiRegionAccessPointPolicyStatus
GetMultiRegionAccessPointRoutes GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold
GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl
GetObjectVersionAttributes GetObjectVersionForReplication GetObjectVersionTagging
GetObjectVersionTorrent GetReplicationConfiguration GetStorageLensConfiguration
GetStorageLensConfigurationTagging GetStorageLensDashboard GetStorageLensGroup
InitiateReplication ListAccessGrants ListAccessGrantsInstances ListAccessGrantsLocations
ListAccessPoints ListAccessPointsForObjectLambda ListAllMyBuckets ListBucket
ListBucketMultipartUploads ListBucketVersions ListCallerAccessGrants ListJobs
ListMultiRegionAccessPoints ListMultipartUploadParts ListStorageLensConfigurations
ListStorageLensGroups ListTagsForResource ObjectOwnerOverrideToBucketOwner
PutAccelerateConfiguration PutAccessGrantsInstanceResourcePolicy
PutAccessPointConfigurationForObjectLambda PutAccessPointPolicy
PutAccessPointPolicyForObjectLambda PutAccessPointPublicAccessBlock PutAccountPublicAccessBlock
PutAnalyticsConfiguration PutBucketAcl PutBucketCORS PutBucketLogging PutBucketNotification
PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy
PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging PutBucketVersioning
PutBucketWebsite PutEncryptionConfiguration PutIntelligentTieringConfiguration
PutInventoryConfiguration PutJobTagging PutLifecycleConfiguration PutMetricsConfiguration
PutMultiRegionAccessPointPolicy PutObject PutObjectAcl PutObjectLegalHold PutObjectRetention
PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging PutReplicationConfiguration
PutStorageLensConfiguration PutStorageLensConfigurationTagging ReplicateDelete ReplicateObject
ReplicateTags RestoreObject SubmitMultiRegionAccessPointRoutes TagResource UntagResource
UpdateAccessGrantsLocation UpdateJobPriority UpdateJobStatus UpdateStorageLensGroup
"""
_SQS = """
AddPermission CancelMessageMoveTask ChangeMessageVisibility CreateQueue DeleteMessage
DeleteQueue GetQueueAttributes GetQueueUrl ListDeadLetterSourceQueues ListMessageMoveTasks
ListQueueTags ListQueues PurgeQueue ReceiveMessage RemovePermission SendMessage
SetQueueAttributes StartMessageMoveTask TagQueue UntagQueue
"""
_IAM = """
AddClientIDToOpenIDConnectProvider AddRoleToInstanceProfile AddUserToGroup AttachGroupPolicy
AttachRolePolicy AttachUserPolicy ChangePassword CreateAccessKey CreateAccountAlias CreateGroup
CreateInstanceProfile CreateLoginProfile CreateOpenIDConnectProvider CreatePolicy
CreatePolicyVersion CreateRole CreateSAMLProvider CreateServiceLinkedRole
CreateServiceSpecificCredential CreateUser CreateVirtualMFADevice DeactivateMFADevice
DeleteAccessKey DeleteAccountAlias DeleteAccountPasswordPolicy DeleteCloudFrontPublicKey
DeleteGroup DeleteGroupPolicy DeleteInstanceProfile DeleteLoginProfile
DeleteOpenIDConnectProvider DeletePolicy DeletePolicyVersion DeleteRole
DeleteRolePermissionsBoundary DeleteRolePolicy DeleteSAMLProvider DeleteSSHPublicKey
DeleteServerCertificate DeleteServiceLinkedRole DeleteServiceSpecificCredential
DeleteSigningCertificate DeleteUser DeleteUserPermissionsBoundary DeleteUserPolicy
DeleteVirtualMFADevice DetachGroupPolicy DetachRolePolicy DetachUserPolicy EnableMFADevice
GenerateCredentialReport GenerateOrganizationsAccessReport GenerateServiceLastAccessedDetails
GetAccessKeyLastUsed GetAccountAuthorizationDetails GetAccountEmailAddress GetAccountName
GetAccountPasswordPolicy GetAccountSummary GetCloudFrontPublicKey GetContextKeysForCustomPolicy
GetContextKeysForPrincipalPolicy GetCredentialReport GetGroup GetGroupPolicy
GetInstanceProfile GetLoginProfile GetMFADevice GetOpenIDConnectProvider
GetOrganizationsAccessReport GetPolicy GetPolicyVersion GetRole GetRolePolicy GetSAMLProvider
GetSSHPublicKey GetServerCertificate GetServiceLastAccessedDetails
GetServiceLastAccessedDetailsWithEntities GetServiceLinkedRoleDeletionStatus GetUser
GetUserPolicy ListAccessKeys ListAccountAliases ListAttachedGroupPolicies
ListAttachedRolePolicies ListAttachedUserPolicies ListCloudFrontPublicKeys
ListEntitiesForPolicy ListGroupPolicies ListGroups ListGroupsForUser ListInstanceProfileTags
ListInstanceProfiles ListInstanceProfilesForRole ListMFADeviceTags ListMFADevices
ListOpenIDConnectProviderTags ListOpenIDConnectProviders ListPolicies
ListPoliciesGrantingServiceAccess ListPolicyTags ListPolicyVersions ListRolePolicies
ListRoleTags ListRoles ListSAMLProviderTags ListSAMLProviders ListSSHPublicKeys
ListSTSRegionalEndpointsStatus ListServerCertificateTags ListServerCertificates
ListServiceSpecificCredentials ListSigningCertificates ListUserPolicies ListUserTags ListUsers
ListVirtualMFADevices PassRole PutGroupPolicy PutRolePermissionsBoundary PutRolePolicy
PutUserPermissionsBoundary PutUserPolicy RemoveClientIDFromOpenIDConnectProvider
RemoveRoleFromInstanceProfile RemoveUserFromGroup ResetServiceSpecificCredential
ResyncMFADevice SetDefaultPolicyVersion SetSTSRegionalEndpointStatus
SetSecurityTokenServicePreferences SimulateCustomPolicy SimulatePrincipalPolicy
TagInstanceProfile TagMFADevice TagOpenIDConnectProvider TagPolicy TagRole TagSAMLProvider
TagServerCertificate TagUser UntagInstanceProfile UntagMFADevice UntagOpenIDConnectProvider
UntagPolicy UntagRole UntagSAMLProvider UntagServerCertificate UntagUser UpdateAccessKey
UpdateAccountEmailAddress UpdateAccountName UpdateAccountPasswordPolicy UpdateAssumeRolePolicy
UpdateCloudFrontPublicKey UpdateGroup UpdateLoginProfile UpdateOpenIDConnectProviderThumbprint
UpdateRole UpdateRoleDescription UpdateSAMLProvider UpdateSSHPublicKey UpdateServerCertificate
UpdateServiceSpecificCredential UpdateSigningCertificate UpdateUser UploadCloudFrontPublicKey
UploadSSHPublicKey UploadServerCertificate UploadSigningCertificate
"""
_STS = """
AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity DecodeAuthorizationMessage
GetAccessKeyInfo GetCallerIdentity GetFederationToken GetServiceBearerToken GetSessionToken
SetContext SetSourceIdentity TagSession
"""
# The cache's data plane (engine/api/access_rules_cache.py): our own names, since AWS
# authorizes Redis commands with Redis ACLs rather than IAM actions.
_CACHE_DATA = "ReadKeys WriteKeys DescribeCache FlushAll"

_ELASTICACHE = _CACHE_DATA + """
AddTagsToResource AuthorizeCacheSecurityGroupIngress BatchApplyUpdateAction
BatchStopUpdateAction CompleteMigration Connect CopyServerlessCacheSnapshot CopySnapshot
CreateCacheCluster CreateCacheParameterGroup CreateCacheSecurityGroup CreateCacheSubnetGroup
CreateGlobalReplicationGroup CreateReplicationGroup CreateServerlessCache
CreateServerlessCacheSnapshot CreateSnapshot CreateUser CreateUserGroup
DecreaseNodeGroupsInGlobalReplicationGroup DecreaseReplicaCount DeleteCacheCluster
DeleteCacheParameterGroup DeleteCacheSecurityGroup DeleteCacheSubnetGroup
DeleteGlobalReplicationGroup DeleteReplicationGroup DeleteServerlessCache
DeleteServerlessCacheSnapshot DeleteSnapshot DeleteUser DeleteUserGroup DescribeCacheClusters
DescribeCacheEngineVersions DescribeCacheParameterGroups DescribeCacheParameters
DescribeCacheSecurityGroups DescribeCacheSubnetGroups DescribeEngineDefaultParameters
DescribeEvents DescribeGlobalReplicationGroups DescribeReplicationGroups
DescribeReservedCacheNodes DescribeReservedCacheNodesOfferings DescribeServerlessCacheSnapshots
DescribeServerlessCaches DescribeServiceUpdates DescribeSnapshots DescribeUpdateActions
DescribeUserGroups DescribeUsers DisassociateGlobalReplicationGroup
ExportServerlessCacheSnapshot FailoverGlobalReplicationGroup
IncreaseNodeGroupsInGlobalReplicationGroup IncreaseReplicaCount InterruptClusterAzPower
ListAllowedNodeTypeModifications ListTagsForResource ModifyCacheCluster
ModifyCacheParameterGroup ModifyCacheSubnetGroup ModifyGlobalReplicationGroup
ModifyReplicationGroup ModifyReplicationGroupShardConfiguration ModifyServerlessCache
ModifyUser ModifyUserGroup PurchaseReservedCacheNodesOffering
RebalanceSlotsInGlobalReplicationGroup RebootCacheCluster RemoveTagsFromResource
ResetCacheParameterGroup RevokeCacheSecurityGroupIngress StartMigration TestFailover
TestMigration
"""
# Provisional: the operator commands of `engine` (admin.proto); the lead finalises them.
_ENGINE = """
AdvanceClock ClusterChange DrainNode Echo FlushCache Heal Rebalance RotateRootCredentials
Scrub Status
"""

SERVICES: dict[str, frozenset[str]] = {
    prefix: frozenset(f"{prefix}:{name}" for name in names.split())
    for prefix, names in (
        ("s3", _S3), ("sqs", _SQS), ("iam", _IAM), ("sts", _STS),
        ("elasticache", _ELASTICACHE), ("engine", _ENGINE),
    )
}
_CANONICAL: dict[str, str] = {
    action.lower(): action for actions in SERVICES.values() for action in actions
}

# Keys every action supports (IAM User Guide, "AWS global condition context keys").
_GLOBAL_KEYS = """
aws:CalledVia aws:CalledViaFirst aws:CalledViaLast aws:CurrentTime aws:EpochTime
aws:FederatedProvider aws:MultiFactorAuthAge aws:MultiFactorAuthPresent aws:PrincipalAccount
aws:PrincipalArn aws:PrincipalIsAWSService aws:PrincipalOrgID aws:PrincipalOrgPaths
aws:PrincipalServiceName aws:PrincipalServiceNamesList aws:PrincipalType aws:Referer
aws:RequestedRegion aws:ResourceAccount aws:ResourceOrgID aws:ResourceOrgPaths
aws:SecureTransport aws:SourceAccount aws:SourceArn aws:SourceIdentity aws:SourceIp
aws:SourceOrgID aws:SourceOrgPaths aws:SourceVpc aws:SourceVpce aws:TagKeys aws:TokenIssueTime
aws:UserAgent aws:userid aws:username aws:ViaAWSService aws:VpcSourceIp
"""
GLOBAL_CONDITION_KEYS = frozenset(k.lower() for k in _GLOBAL_KEYS.split())
# Keys that carry a name after the slash: aws:PrincipalTag/team, s3:ExistingObjectTag/x.
GLOBAL_CONDITION_KEY_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")

# S3's per-action keys, for the S3 actions the engine serves. Every S3 action also has
# these; object and list actions add the access point ones.
_S3_COMMON = ("s3:authType s3:ResourceAccount s3:signatureAge s3:signatureversion "
              "s3:TlsVersion s3:x-amz-content-sha256")
_S3_DATA = "s3:DataAccessPointAccount s3:DataAccessPointArn s3:AccessPointNetworkOrigin"
_S3_GRANTS = ("s3:x-amz-acl s3:x-amz-grant-full-control s3:x-amz-grant-read "
              "s3:x-amz-grant-read-acp s3:x-amz-grant-write s3:x-amz-grant-write-acp")
_S3_PUT = (f"s3:RequestObjectTag/<key> s3:RequestObjectTagKeys {_S3_GRANTS} "
           "s3:x-amz-copy-source s3:x-amz-metadata-directive s3:x-amz-server-side-encryption "
           "s3:x-amz-server-side-encryption-aws-kms-key-id "
           "s3:x-amz-server-side-encryption-customer-algorithm s3:x-amz-storage-class "
           "s3:x-amz-website-redirect-location s3:object-lock-mode "
           "s3:object-lock-retain-until-date s3:object-lock-remaining-retention-days "
           "s3:object-lock-legal-hold")
_TAG = "s3:ExistingObjectTag/<key>"
_S3_KEYS: dict[str, str] = {
    "ListBucket": f"{_S3_DATA} s3:delimiter s3:max-keys s3:prefix",
    "ListBucketVersions": f"{_S3_DATA} s3:delimiter s3:max-keys s3:prefix",
    "ListBucketMultipartUploads": _S3_DATA,
    "ListMultipartUploadParts": _S3_DATA,
    "AbortMultipartUpload": _S3_DATA,
    "CreateBucket": f"s3:LocationConstraint {_S3_GRANTS} s3:x-amz-object-ownership",
    "PutBucketAcl": _S3_GRANTS,
    "GetObject": f"{_S3_DATA} {_TAG}",
    "GetObjectAcl": f"{_S3_DATA} {_TAG}",
    "GetObjectAttributes": f"{_S3_DATA} {_TAG}",
    "GetObjectTagging": f"{_S3_DATA} {_TAG}",
    "GetObjectVersion": f"{_S3_DATA} {_TAG} s3:versionid",
    "GetObjectVersionAcl": f"{_S3_DATA} {_TAG} s3:versionid",
    "GetObjectVersionAttributes": f"{_S3_DATA} {_TAG} s3:versionid",
    "GetObjectVersionTagging": f"{_S3_DATA} {_TAG} s3:versionid",
    "GetObjectLegalHold": _S3_DATA,
    "GetObjectRetention": _S3_DATA,
    "PutObject": f"{_S3_DATA} {_S3_PUT}",
    "PutObjectAcl": f"{_S3_DATA} {_TAG} {_S3_GRANTS} s3:x-amz-storage-class",
    "PutObjectVersionAcl": f"{_S3_DATA} {_TAG} {_S3_GRANTS} s3:x-amz-storage-class s3:versionid",
    "PutObjectTagging": f"{_S3_DATA} {_TAG} s3:RequestObjectTag/<key> s3:RequestObjectTagKeys",
    "PutObjectVersionTagging": (f"{_S3_DATA} {_TAG} s3:RequestObjectTag/<key> "
                                "s3:RequestObjectTagKeys s3:versionid"),
    "PutObjectLegalHold": f"{_S3_DATA} s3:object-lock-legal-hold",
    "PutObjectRetention": (f"{_S3_DATA} s3:object-lock-mode s3:object-lock-retain-until-date "
                           "s3:object-lock-remaining-retention-days"),
    "DeleteObject": _S3_DATA,
    "DeleteObjectVersion": f"{_S3_DATA} s3:versionid",
    "DeleteObjectTagging": f"{_S3_DATA} {_TAG}",
    "DeleteObjectVersionTagging": f"{_S3_DATA} {_TAG} s3:versionid",
    "RestoreObject": _S3_DATA,
}
_TAGGING_KEYS = "aws:RequestTag/${TagKey} aws:TagKeys"
# SQS has no service-specific keys; its tagging actions take the global tag keys.
_OTHER_KEYS: dict[str, str] = {
    "sqs:CreateQueue": _TAGGING_KEYS,
    "sqs:TagQueue": _TAGGING_KEYS,
    "sqs:UntagQueue": "aws:TagKeys",
}

# The resource type each S3 action takes: a bucket ARN, an object ARN, or something else
# (access points, jobs, the account). A bucket policy statement must name at least one
# resource an action applies to.
_OBJECT_ACTIONS = """
AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging
DeleteObjectVersion DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes
GetObjectLegalHold GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion
GetObjectVersionAcl GetObjectVersionAttributes GetObjectVersionForReplication
GetObjectVersionTagging GetObjectVersionTorrent InitiateReplication ListMultipartUploadParts
ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectLegalHold PutObjectRetention
PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete ReplicateObject
ReplicateTags RestoreObject"""
_S3_OBJECT_ACTIONS = frozenset(f"s3:{name}" for name in _OBJECT_ACTIONS.split())
_S3_BUCKET_ACTION = re.compile(
    r"s3:((Create|Delete|Get|Put|List)Bucket\w*|(Get|Put)(Accelerate|Analytics|Encryption"
    r"|IntelligentTiering|Inventory|Lifecycle|Metrics|Replication)Configuration)\Z"
)


def canonical_action(action: str) -> str | None:
    """AWS's spelling of a known action, matched case-insensitively; None if unknown."""
    return _CANONICAL.get(action.lower())


def known_service(prefix: str) -> bool:
    return prefix.lower() in SERVICES


@cache
def actions_matching(service: str, pattern: str) -> frozenset[str]:
    """The known actions of ``service`` an action pattern (``Get*``, ``?etObject``) names."""
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        + r"\Z", re.IGNORECASE,
    )
    prefix = service.lower()
    return frozenset(a for a in SERVICES.get(prefix, ()) if regex.match(a[len(prefix) + 1:]))


def s3_resource_type(action: str) -> str:
    """"object", "bucket" or "other": which S3 ARN an S3 action is authorised against."""
    if action in _S3_OBJECT_ACTIONS:
        return "object"
    return "bucket" if _S3_BUCKET_ACTION.match(action) else "other"


def condition_keys_for(action: str) -> frozenset[str]:
    """The service-specific condition keys an action supports (lower case), as far as the
    Service Authorization Reference lists them; global keys (``aws:*``) apply to all."""
    name = canonical_action(action)
    if name is None:
        return frozenset()
    if name.startswith("s3:"):
        extra = _S3_KEYS.get(name[3:], "")
        return frozenset(k.lower() for k in f"{_S3_COMMON} {extra}".split())
    return frozenset(k.lower() for k in _OTHER_KEYS.get(name, "").split())


def supports_condition_key(action: str, key: str) -> bool:
    """Whether a request for ``action`` can carry ``key`` (global keys always can); a
    policy testing a key its action never has is valid but the key is always missing."""
    key = key.lower()
    if key in GLOBAL_CONDITION_KEYS or key.startswith(GLOBAL_CONDITION_KEY_PREFIXES):
        return True
    for known in condition_keys_for(action):
        if known == key or (known.endswith("/<key>") and key.startswith(known[:-5])):
            return True
    return False
