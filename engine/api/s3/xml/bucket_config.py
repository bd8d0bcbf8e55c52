"""Small bucket settings documents: VersioningConfiguration, PublicAccessBlockConfiguration,
OwnershipControls and PolicyStatus (LocationConstraint and CreateBucketConfiguration are
core documents: engine.api.s3.documents_core).

Values the services already judge (an unknown ObjectOwnership, a missing Status) are
passed through for them to refuse, so both endpoints answer alike; only what the XML
itself gets wrong (a boolean that is not one, an unknown Status word) is refused here.
"""

from __future__ import annotations

from engine.api.s3.xml.base import SMALL_BODY, add, add_if, parse, render, root
from engine.v1 import access_pb2
from engine.v1 import objects_pb2 as pb

_VERSIONING = ("Enabled", "Suspended")
_MFA_DELETE = ("Enabled", "Disabled")
_PAB_FIELDS = (("BlockPublicAcls", "block_public_acls"),
               ("IgnorePublicAcls", "ignore_public_acls"),
               ("BlockPublicPolicy", "block_public_policy"),
               ("RestrictPublicBuckets", "restrict_public_buckets"))


# --- versioning ------------------------------------------------------------------------------


def parse_versioning(body: bytes, bucket: str) -> pb.PutBucketVersioningRequest:
    doc = parse(body, "VersioningConfiguration", SMALL_BODY)
    status, mfa = doc.token("Status"), doc.token("MfaDelete")
    if (status is not None and status not in _VERSIONING) or (
            mfa is not None and mfa not in _MFA_DELETE):
        raise doc.fail()
    return pb.PutBucketVersioningRequest(bucket=bucket, status=status or "",
                                         mfa_delete=mfa or "")


def versioning_result(resp: pb.GetBucketVersioningResponse) -> bytes:
    """Empty for a bucket that was never versioned, as S3 answers."""
    doc = root("VersioningConfiguration")
    add_if(doc, "Status", resp.status)
    return render(doc)


# --- Block Public Access ---------------------------------------------------------------------


def parse_public_access_block(body: bytes) -> access_pb2.PublicAccessBlockConfiguration:
    """Each of the four flags; one left out is false, as in S3."""
    doc = parse(body, "PublicAccessBlockConfiguration", SMALL_BODY)
    config = access_pb2.PublicAccessBlockConfiguration()
    for element, attr in _PAB_FIELDS:
        setattr(config, attr, bool(doc.boolean(element)))
    return config


def public_access_block_result(config: access_pb2.PublicAccessBlockConfiguration) -> bytes:
    doc = root("PublicAccessBlockConfiguration")
    for element, attr in _PAB_FIELDS:
        add(doc, element, bool(getattr(config, attr)))
    return render(doc)


# --- Object Ownership ------------------------------------------------------------------------


def parse_ownership_controls(body: bytes) -> pb.OwnershipControls:
    doc = parse(body, "OwnershipControls", SMALL_BODY)
    controls = pb.OwnershipControls()
    for rule in doc.children("Rule"):
        controls.rules.add(object_ownership=rule.token("ObjectOwnership") or "")
    return controls


def ownership_controls_result(controls: pb.OwnershipControls) -> bytes:
    doc = root("OwnershipControls")
    for rule in controls.rules:
        add(add(doc, "Rule"), "ObjectOwnership", rule.object_ownership)
    return render(doc)


# --- policy status -----------------------------------------------------------------


def policy_status_result(resp: pb.GetBucketPolicyStatusResponse) -> bytes:
    doc = root("PolicyStatus")
    add(doc, "IsPublic", resp.is_public)
    return render(doc)

