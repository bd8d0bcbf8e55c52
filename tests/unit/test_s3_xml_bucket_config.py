"""Bucket settings, ACL and tagging documents: AWS's examples, botocore both ways, S3's
limits and refusals."""

from __future__ import annotations

import pytest
from helpers_s3_xml import answer, sent_body, tree

from engine.api.s3.xml import acl, bucket_config, tagging
from engine.errors import EngineError
from engine.v1 import access_pb2
from engine.v1 import objects_pb2 as pb

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


def refusal(call, *args, **kwargs) -> EngineError:
    with pytest.raises(EngineError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- versioning ------------------------------------------------------------------------------


def test_versioning_example_and_botocore() -> None:
    body = f"<VersioningConfiguration {NS}><Status>Enabled</Status></VersioningConfiguration>"
    assert bucket_config.parse_versioning(body.encode(), "b") == pb.PutBucketVersioningRequest(
        bucket="b", status="Enabled")
    sent = sent_body("put_bucket_versioning", Bucket="b", VersioningConfiguration={
        "Status": "Suspended", "MFADelete": "Disabled"})
    assert bucket_config.parse_versioning(sent, "b") == pb.PutBucketVersioningRequest(
        bucket="b", status="Suspended", mfa_delete="Disabled")
    assert refusal(bucket_config.parse_versioning,
                   b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
                   "b").code == "MalformedXML"


def test_get_versioning_is_empty_until_enabled() -> None:
    never = bucket_config.versioning_result(pb.GetBucketVersioningResponse())
    assert tree(never) == tree(f"<VersioningConfiguration {NS}/>")
    assert answer("get_bucket_versioning", lambda _: never, Bucket="b") == {}
    enabled = bucket_config.versioning_result(pb.GetBucketVersioningResponse(status="Enabled"))
    assert answer("get_bucket_versioning", lambda _: enabled, Bucket="b") == {
        "Status": "Enabled"}


# --- Block Public Access, ownership, policy status --------------------------------


def test_public_access_block_example_and_botocore() -> None:
    example = b"""<PublicAccessBlockConfiguration>
       <BlockPublicAcls>TRUE</BlockPublicAcls>
       <IgnorePublicAcls>TRUE</IgnorePublicAcls>
       <BlockPublicPolicy>TRUE</BlockPublicPolicy>
       <RestrictPublicBuckets>TRUE</RestrictPublicBuckets>
    </PublicAccessBlockConfiguration>"""
    assert bucket_config.parse_public_access_block(example) == \
        access_pb2.PublicAccessBlockConfiguration(
            block_public_acls=True, ignore_public_acls=True, block_public_policy=True,
            restrict_public_buckets=True)
    sent = sent_body("put_public_access_block", Bucket="b", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "RestrictPublicBuckets": False})
    config = bucket_config.parse_public_access_block(sent)
    assert (config.block_public_acls, config.ignore_public_acls) == (True, False)
    got = answer("get_public_access_block",
                 lambda _: bucket_config.public_access_block_result(config), Bucket="b")
    assert got["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False}
    assert refusal(bucket_config.parse_public_access_block,
                   b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
                   b"</PublicAccessBlockConfiguration>").code == "MalformedXML"


def test_ownership_controls_example_and_botocore() -> None:
    example = f"""<OwnershipControls {NS}>
        <Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>
    </OwnershipControls>"""
    controls = bucket_config.parse_ownership_controls(example.encode())
    assert [r.object_ownership for r in controls.rules] == ["BucketOwnerEnforced"]
    assert tree(bucket_config.ownership_controls_result(controls)) == tree(example)
    sent = sent_body("put_bucket_ownership_controls", Bucket="b", OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    controls = bucket_config.parse_ownership_controls(sent)
    got = answer("get_bucket_ownership_controls",
                 lambda _: bucket_config.ownership_controls_result(controls), Bucket="b")
    assert got["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}


def test_policy_status() -> None:
    status = bucket_config.policy_status_result(pb.GetBucketPolicyStatusResponse(is_public=True))
    assert tree(status) == tree("<PolicyStatus><IsPublic>true</IsPublic></PolicyStatus>")
    assert answer("get_bucket_policy_status", lambda _: status, Bucket="b") == {
        "PolicyStatus": {"IsPublic": True}}


# --- ACLs ------------------------------------------------------------------------------------

ACL_EXAMPLE = f"""<AccessControlPolicy {NS}>
  <Owner>
    <ID>{OWNER_ID}</ID>
    <DisplayName>CustomersName@amazon.com</DisplayName>
  </Owner>
  <AccessControlList>
    <Grant>
      <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">
        <ID>{OWNER_ID}</ID>
        <DisplayName>CustomerName@amazon.com</DisplayName>
      </Grantee>
      <Permission>FULL_CONTROL</Permission>
    </Grant>
    <Grant>
      <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
               xsi:type="AmazonCustomerByEmail">
        <EmailAddress>xyz@amazon.com</EmailAddress>
      </Grantee>
      <Permission>WRITE_ACP</Permission>
    </Grant>
    <Grant>
      <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">
        <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>
      </Grantee>
      <Permission>READ</Permission>
    </Grant>
  </AccessControlList>
</AccessControlPolicy>"""


def test_acl_example_both_ways() -> None:
    policy = acl.parse_acl(ACL_EXAMPLE.encode())
    assert policy.owner == pb.Owner(id=OWNER_ID, display_name="CustomersName@amazon.com")
    assert [(g.grantee.type, g.permission) for g in policy.grants] == [
        ("CanonicalUser", "FULL_CONTROL"), ("AmazonCustomerByEmail", "WRITE_ACP"),
        ("Group", "READ")]
    assert policy.grants[1].grantee.email_address == "xyz@amazon.com"
    assert policy.grants[2].grantee.uri == "http://acs.amazonaws.com/groups/global/AllUsers"
    body = acl.acl_result(policy)
    assert tree(body) == tree(ACL_EXAMPLE)
    assert b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' \
           b'xsi:type="CanonicalUser">' in body


def test_acl_from_botocore_and_back() -> None:
    grants = [
        {"Grantee": {"Type": "CanonicalUser", "ID": OWNER_ID}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group",
                     "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
         "Permission": "READ_ACP"}]
    sent = sent_body("put_bucket_acl", Bucket="b", AccessControlPolicy={
        "Grants": grants, "Owner": {"ID": OWNER_ID}})
    policy = acl.parse_acl(sent)
    assert policy.grants[1].grantee.uri.endswith("AuthenticatedUsers")
    got = answer("get_bucket_acl", lambda _: acl.acl_result(policy), Bucket="b")
    assert got == {"Owner": {"ID": OWNER_ID}, "Grants": grants}


@pytest.mark.parametrize("body", [
    b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",  # no owner
    f"<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><AccessControlList><Grant>"
    f"<Grantee><ID>x</ID></Grantee><Permission>READ</Permission></Grant>"
    f"</AccessControlList></AccessControlPolicy>".encode(),  # no xsi:type
    f"<AccessControlPolicy xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'><Owner><ID>"
    f"{OWNER_ID}</ID></Owner><AccessControlList><Grant><Grantee xsi:type='Group'/>"
    f"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
    .encode(),  # a group without its URI
    b"<AccessControlPolicy><Owner>",
])
def test_unreadable_acls_are_malformed_acl_error(body: bytes) -> None:
    e = refusal(acl.parse_acl, body)
    assert (e.code, e.http_status) == ("MalformedACLError", 400)


# --- tagging ---------------------------------------------------------------------------------

TAGGING_EXAMPLE = b"""<Tagging>
  <TagSet>
    <Tag><Key>tag1</Key><Value>val1</Value></Tag>
    <Tag><Key>tag2</Key><Value>val2</Value></Tag>
  </TagSet>
</Tagging>"""


def test_tagging_example_and_botocore() -> None:
    tags = tagging.parse_tagging(TAGGING_EXAMPLE)
    assert [(t.key, t.value) for t in tags] == [("tag1", "val1"), ("tag2", "val2")]
    assert tree(tagging.tagging_result(tags)) == tree(TAGGING_EXAMPLE)
    wanted = [{"Key": "a b", "Value": ""}, {"Key": "ключ", "Value": "x+y=z @ :/"}]
    sent = sent_body("put_object_tagging", Bucket="b", Key="k", Tagging={"TagSet": wanted})
    tags = tagging.parse_tagging(sent)
    got = answer("get_object_tagging", lambda _: tagging.tagging_result(tags), Bucket="b",
                 Key="k")
    assert got["TagSet"] == wanted


def tag_body(pairs: list[tuple[str, str]]) -> bytes:
    return sent_body("put_bucket_tagging", Bucket="b", Tagging={
        "TagSet": [{"Key": k, "Value": v} for k, v in pairs]})


def test_s3s_tag_limits() -> None:
    eleven = [(f"k{i}", "v") for i in range(11)]
    assert len(tagging.parse_tagging(tag_body(eleven[:10]))) == 10
    e = refusal(tagging.parse_tagging, tag_body(eleven))
    assert (e.code, e.message) == ("BadRequest", "Object tags cannot be greater than 10")
    fifty = [(f"k{i}", "v") for i in range(50)]
    assert len(tagging.parse_tagging(tag_body(fifty), bucket=True)) == 50
    e = refusal(tagging.parse_tagging, tag_body([*fifty, ("x", "y")]), bucket=True)
    assert (e.code, e.message) == ("BadRequest", "Bucket tag count cannot be greater than 50")
    for bucket in (False, True):
        e = refusal(tagging.parse_tagging, tag_body([("k", "1"), ("k", "2")]), bucket=bucket)
        assert (e.code, e.message) == ("InvalidTag",
                                       "Cannot provide multiple Tags with the same key")
        assert tagging.parse_tagging(tag_body([("k" * 128, "v" * 256)]), bucket=bucket)
        e = refusal(tagging.parse_tagging, tag_body([("k" * 129, "v")]), bucket=bucket)
        assert (e.code, e.message) == ("InvalidTag",
                                       "The TagKey you have provided is too long, max 128")
        e = refusal(tagging.parse_tagging, tag_body([("k", "v" * 257)]), bucket=bucket)
        assert (e.code, e.message) == ("InvalidTag",
                                       "The TagValue you have provided is too long, max 256")


@pytest.mark.parametrize("body", [
    b"<Tagging/>",
    b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
    b"<Tags><TagSet/></Tags>",
])
def test_tagging_documents_without_their_parts_are_malformed(body: bytes) -> None:
    assert refusal(tagging.parse_tagging, body).code == "MalformedXML"
