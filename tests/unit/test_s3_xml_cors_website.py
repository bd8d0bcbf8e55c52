"""CORS and website configurations (no gRPC messages: dataclasses), GetObjectAttributes and
RestoreRequest: AWS's examples, botocore both ways, S3's refusals."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_s3_xml import answer, sent_body, tree

from engine.api.s3.xml import attributes, cors, restore, website
from engine.api.s3.xml.base import parse_iso
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb


def refusal(call, *args) -> EngineError:
    with pytest.raises(EngineError) as caught:
        call(*args)
    return caught.value


# --- CORS ------------------------------------------------------------------------------------

CORS_EXAMPLE = b"""<CORSConfiguration>
 <CORSRule>
   <AllowedOrigin>http://www.example.com</AllowedOrigin>
   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
   <MaxAgeSeconds>3000</MaxAgeSeconds>
   <ExposeHeader>x-amz-server-side-encryption</ExposeHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>*</AllowedOrigin>
   <AllowedMethod>GET</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
   <MaxAgeSeconds>3000</MaxAgeSeconds>
 </CORSRule>
</CORSConfiguration>"""


def test_cors_example_both_ways() -> None:
    config = cors.parse_cors(CORS_EXAMPLE)
    assert config.rules[0] == cors.CorsRule(
        allowed_methods=("PUT", "POST", "DELETE"), allowed_origins=("http://www.example.com",),
        allowed_headers=("*",), expose_headers=("x-amz-server-side-encryption",),
        max_age_seconds=3000)
    assert tree(cors.cors_result(config)) == tree(CORS_EXAMPLE)


def test_cors_from_botocore_and_back() -> None:
    rules: list[dict[str, Any]] = [
        {"ID": "web", "AllowedHeaders": ["Authorization", "x-amz-*"],
         "AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["https://*.example.com"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 0},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}]
    config = cors.parse_cors(sent_body("put_bucket_cors", Bucket="b",
                                       CORSConfiguration={"CORSRules": rules}))
    got = answer("get_bucket_cors", lambda _: cors.cors_result(config), Bucket="b")
    assert got["CORSRules"] == rules


def cors_rule(inner: str) -> bytes:
    return f"<CORSConfiguration><CORSRule>{inner}</CORSRule></CORSConfiguration>".encode()


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"<CORSConfiguration/>", "MalformedXML", None),
    (cors_rule("<AllowedMethod>GET</AllowedMethod>"), "MalformedXML", None),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin>"), "MalformedXML", None),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"),
     "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is "
     "PATCH"),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>"),
     "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is get"),
    (cors_rule("<AllowedOrigin>https://*.example.*</AllowedOrigin>"
               "<AllowedMethod>GET</AllowedMethod>"),
     "InvalidRequest", 'AllowedOrigin "https://*.example.*" can not have more than one '
     "wildcard."),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
               "<AllowedHeader>**</AllowedHeader>"),
     "InvalidRequest", 'AllowedHeader "**" can not have more than one wildcard.'),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
               "<ExposeHeader>*</ExposeHeader>"),
     "InvalidRequest", 'ExposeHeader "*" contains wildcard. We currently do not support '
     "wildcard for ExposeHeader."),
    (cors_rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
               "<MaxAgeSeconds>soon</MaxAgeSeconds>"), "MalformedXML", None),
])
def test_cors_refusals(body: bytes, code: str, message: str | None) -> None:
    e = refusal(cors.parse_cors, body)
    assert e.code == code
    if message is not None:
        assert e.message == message


def test_cors_allows_at_most_100_rules() -> None:
    rule = {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    body = sent_body("put_bucket_cors", Bucket="b", CORSConfiguration={"CORSRules": [rule] * 100})
    assert len(cors.parse_cors(body).rules) == 100
    body = sent_body("put_bucket_cors", Bucket="b", CORSConfiguration={"CORSRules": [rule] * 101})
    assert refusal(cors.parse_cors, body).code == "MalformedXML"


# --- website ---------------------------------------------------------------------------------

WEBSITE_EXAMPLE = b"""<WebsiteConfiguration xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>
    <IndexDocument>
        <Suffix>index.html</Suffix>
    </IndexDocument>
    <ErrorDocument>
        <Key>SomeErrorDocument.html</Key>
    </ErrorDocument>
    <RoutingRules>
      <RoutingRule>
        <Condition>
          <KeyPrefixEquals>docs/</KeyPrefixEquals>
        </Condition>
        <Redirect>
          <ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith>
        </Redirect>
      </RoutingRule>
      <RoutingRule>
        <Condition>
          <HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals>
        </Condition>
        <Redirect>
          <HostName>ec2-11-22-333-44.compute-1.amazonaws.com</HostName>
          <ReplaceKeyPrefixWith>report-404/</ReplaceKeyPrefixWith>
        </Redirect>
      </RoutingRule>
    </RoutingRules>
</WebsiteConfiguration>"""


def test_website_example_both_ways() -> None:
    config = website.parse_website(WEBSITE_EXAMPLE)
    assert (config.index_suffix, config.error_key) == ("index.html", "SomeErrorDocument.html")
    assert config.routing_rules[0] == website.RoutingRule(
        website.Redirect(replace_key_prefix_with="documents/"),
        website.Condition(key_prefix_equals="docs/"))
    assert config.routing_rules[1].condition == website.Condition(
        http_error_code_returned_equals="404")
    assert tree(website.website_result(config)) == tree(WEBSITE_EXAMPLE)


@pytest.mark.parametrize("configuration", [
    {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"},
     "RoutingRules": [
         {"Condition": {"KeyPrefixEquals": ""},
          "Redirect": {"Protocol": "https", "HostName": "example.com",
                       "ReplaceKeyWith": "home.html", "HttpRedirectCode": "301"}},
         {"Redirect": {"ReplaceKeyPrefixWith": ""}}]},
    {"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}},
])
def test_website_from_botocore_and_back(configuration: dict[str, Any]) -> None:
    config = website.parse_website(sent_body("put_bucket_website", Bucket="b",
                                             WebsiteConfiguration=configuration))
    got = answer("get_bucket_website", lambda _: website.website_result(config), Bucket="b")
    assert got == configuration


def site(inner: str) -> bytes:
    return f"<WebsiteConfiguration>{inner}</WebsiteConfiguration>".encode()


INDEX = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>"


@pytest.mark.parametrize(("body", "code", "message"), [
    (site(""), "InvalidArgument",
     "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"),
    (site("<IndexDocument><Suffix>a/b.html</Suffix></IndexDocument>"), "InvalidArgument",
     "The IndexDocument Suffix is not well formed"),
    (site("<IndexDocument><Suffix></Suffix></IndexDocument>"), "InvalidArgument",
     "The IndexDocument Suffix is not well formed"),
    (site(INDEX + "<ErrorDocument/>"), "MalformedXML", None),
    (site("<RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo>" + INDEX),
     "InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other "
     "Routing Rules."),
    (site("<RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol>"
          "</RedirectAllRequestsTo>"), "InvalidRequest",
     "Invalid protocol, protocol can be http or https. If not defined the protocol will be "
     "selected automatically."),
    (site("<RedirectAllRequestsTo><Protocol>http</Protocol></RedirectAllRequestsTo>"),
     "MalformedXML", None),
    (site(INDEX + "<RoutingRules/>"), "MalformedXML", None),
    (site(INDEX + "<RoutingRules><RoutingRule><Condition/></RoutingRule></RoutingRules>"),
     "MalformedXML", None),
    (site(INDEX + "<RoutingRules><RoutingRule><Condition/><Redirect><HostName>h</HostName>"
          "</Redirect></RoutingRule></RoutingRules>"), "InvalidRequest",
     "Condition cannot be empty. To redirect all requests without a condition, the condition "
     "element shouldn't be present."),
    (site(INDEX + "<RoutingRules><RoutingRule><Redirect><ReplaceKeyWith>a</ReplaceKeyWith>"
          "<ReplaceKeyPrefixWith>b</ReplaceKeyPrefixWith></Redirect></RoutingRule>"
          "</RoutingRules>"), "InvalidRequest",
     "You can only define ReplaceKeyPrefix or ReplaceKey but not both."),
    (site(INDEX + "<RoutingRules><RoutingRule><Redirect><HttpRedirectCode>300"
          "</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>"), "InvalidRequest",
     "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300."),
    (site(INDEX + "<RoutingRules>" + "<RoutingRule><Redirect><HostName>h</HostName></Redirect>"
          "</RoutingRule>" * 51 + "</RoutingRules>"), "InvalidRequest",
     "The number of routing rules must not exceed 50."),
])
def test_website_refusals(body: bytes, code: str, message: str | None) -> None:
    e = refusal(website.parse_website, body)
    assert e.code == code
    if message is not None:
        assert e.message == message


# --- GetObjectAttributes ---------------------------------------------------------------------


def test_object_attributes_through_botocore() -> None:
    info = pb.ObjectInfo(etag='"a7d414b9133d6483d9a1c4e04e856e3b-2"', size=10485760 + 17,
                         storage_class="STANDARD_IA", checksum_crc32c="yZRlqg==",
                         last_modified=parse_iso("2020-01-01T00:00:00Z"))
    wanted = attributes.parse_attribute_names("ETag, Checksum,ObjectParts,StorageClass,ObjectSize")
    parts = attributes.ObjectParts(total_parts_count=2, max_parts=1, is_truncated=True,
                                   next_part_number_marker=1,
                                   parts=(attributes.Part(1, 10485760, "AAAAAA=="),))
    body = attributes.attributes_result(attributes.object_attributes(info, wanted, parts))
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                           b'<GetObjectAttributesOutput xmlns=')
    got = answer("get_object_attributes", lambda _: body, Bucket="b", Key="k",
                 ObjectAttributes=["ETag"])
    assert got["ETag"] == "a7d414b9133d6483d9a1c4e04e856e3b-2"  # unquoted, as S3 sends it
    assert got["Checksum"] == {"ChecksumCRC32C": "yZRlqg==", "ChecksumType": "FULL_OBJECT"}
    assert got["ObjectParts"] == {
        "TotalPartsCount": 2, "PartNumberMarker": 0, "NextPartNumberMarker": 1, "MaxParts": 1,
        "IsTruncated": True, "Parts": [{"PartNumber": 1, "Size": 10485760,
                                        "ChecksumCRC32C": "AAAAAA=="}]}
    assert (got["StorageClass"], got["ObjectSize"]) == ("STANDARD_IA", 10485777)


def test_only_the_asked_attributes_are_answered() -> None:
    info = pb.ObjectInfo(etag='"e"', size=3, storage_class="STANDARD", checksum_crc32c="c")
    body = attributes.attributes_result(attributes.object_attributes(
        info, attributes.parse_attribute_names("ObjectSize")))
    assert tree(body) == tree("<GetObjectAttributesOutput><ObjectSize>3</ObjectSize>"
                              "</GetObjectAttributesOutput>")


@pytest.mark.parametrize("header", ["", " , ", "ETag,Size", "etag"])
def test_unknown_attribute_names_are_refused(header: str) -> None:
    e = refusal(attributes.parse_attribute_names, header)
    assert (e.code, e.message, e.details["ArgumentName"]) == (
        "InvalidArgument", "Invalid attribute name specified.", "x-amz-object-attributes")


# --- RestoreRequest --------------------------------------------------------------------------


def test_restore_example_and_botocore() -> None:
    example = b"""<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
       <Days>2</Days>
       <GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters>
    </RestoreRequest>"""
    assert restore.parse_restore(example, "b", "k") == pb.RestoreObjectRequest(
        bucket="b", key="k", days=2, tier="Bulk")
    body = sent_body("restore_object", Bucket="b", Key="k", VersionId="v",
                     RestoreRequest={"Days": 7})
    request = restore.parse_restore(body, "b", "k", "v")
    assert (request.days, request.tier, request.version_id) == (7, "", "v")
    assert not restore.parse_restore(b"<RestoreRequest/>", "b", "k").HasField("days")


def test_select_restores_are_refused() -> None:
    body = sent_body("restore_object", Bucket="b", Key="k", RestoreRequest={
        "Type": "SELECT", "Tier": "Standard"})
    assert refusal(restore.parse_restore, body, "b", "k").code == "NotImplemented"
