"""Listing documents against AWS's examples, botocore's requests and botocore's parser."""

from __future__ import annotations

import pytest
from helpers_s3_xml import answer, query_of, sent, sequence, tree
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.api.s3.xml import listing
from engine.api.s3.xml.base import parse_iso
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


def summary(key: str, when: str, etag: str, size: int, storage_class: str = "STANDARD",
            owner: str = "", display: str = "") -> pb.ObjectSummary:
    return pb.ObjectSummary(key=key, last_modified=parse_iso(when), etag=f'"{etag}"',
                            size=size, storage_class=storage_class, owner_id=owner,
                            owner_display_name=display)


# --- AWS API reference examples (ListObjectsV2, ListObjects, ListObjectVersions) ----------

V2_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix/>
    <KeyCount>205</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
</ListBucketResult>"""

V2_START_AFTER_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>quotes</Name>
  <Prefix>E</Prefix>
  <StartAfter>ExampleGuide.pdf</StartAfter>
  <KeyCount>1</KeyCount>
  <MaxKeys>3</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>ExampleObject.txt</Key>
    <LastModified>2013-09-17T18:07:53.000Z</LastModified>
    <ETag>"599bab3ed2c697f1d26842727561fd94"</ETag>
    <Size>857</Size>
    <StorageClass>REDUCED_REDUNDANCY</StorageClass>
  </Contents>
</ListBucketResult>"""

V2_DELIMITER_EXAMPLE = """<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>example-bucket</Name>
  <Prefix></Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>sample.jpg</Key>
    <LastModified>2011-02-26T01:56:20.000Z</LastModified>
    <ETag>"bf1d737a4d46a19f3bced6905cc8b902"</ETag>
    <Size>142863</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>photos/</Prefix>
  </CommonPrefixes>
</ListBucketResult>"""

V2_CONTINUED_EXAMPLE = """<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix></Prefix>
  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
  <NextContinuationToken>2ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <KeyCount>1</KeyCount>
  <MaxKeys>1</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>happyface.jpg</Key>
    <LastModified>2014-11-21T19:40:05.000Z</LastModified>
    <ETag>"70ee1738b6b21e2c8a43f3a5ab0eee71"</ETag>
    <Size>11</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
</ListBucketResult>"""

V1_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix/>
    <Marker/>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Contents>
</ListBucketResult>"""

VERSIONS_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix>my</Prefix>
    <KeyMarker/>
    <VersionIdMarker/>
    <MaxKeys>5</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Version>
        <Key>my-image.jpg</Key>
        <VersionId>3/L4kqtJl40Nr8X8gdRQBpUMLUo</VersionId>
        <IsLatest>true</IsLatest>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Version>
    <DeleteMarker>
        <Key>my-second-image.jpg</Key>
        <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
        <IsLatest>true</IsLatest>
        <LastModified>2009-11-12T17:50:30.000Z</LastModified>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </DeleteMarker>
    <Version>
        <Key>my-second-image.jpg</Key>
        <VersionId>QUpfdndhfd8438MNFDN93jdnJFkdmqnh893</VersionId>
        <IsLatest>false</IsLatest>
        <LastModified>2009-10-10T17:50:30.000Z</LastModified>
        <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
        <Size>166434</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Version>
</ListVersionsResult>"""


def test_list_objects_v2_example() -> None:
    resp = pb.ListObjectsV2Response(name="bucket", key_count=205, max_keys=1000, contents=[
        summary("my-image.jpg", "2009-10-12T17:50:30.000Z",
                "fba9dede5f27731c9771645a39863328", 434234)])
    body = listing.list_objects_v2_result(resp)
    assert tree(body) == tree(V2_EXAMPLE)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
                           b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>')


def test_list_objects_v2_start_after_example() -> None:
    resp = pb.ListObjectsV2Response(
        name="quotes", prefix="E", start_after="ExampleGuide.pdf", key_count=1, max_keys=3,
        contents=[summary("ExampleObject.txt", "2013-09-17T18:07:53.000Z",
                          "599bab3ed2c697f1d26842727561fd94", 857, "REDUCED_REDUNDANCY")])
    body = listing.list_objects_v2_result(resp)
    assert tree(body) == tree(V2_START_AFTER_EXAMPLE)
    assert sequence(body) == ["Name", "Prefix", "StartAfter", "KeyCount", "MaxKeys",
                              "IsTruncated", "Contents"]


def test_list_objects_v2_delimiter_example_puts_contents_before_prefixes() -> None:
    resp = pb.ListObjectsV2Response(
        name="example-bucket", delimiter="/", key_count=2, max_keys=1000,
        common_prefixes=["photos/"],
        contents=[summary("sample.jpg", "2011-02-26T01:56:20.000Z",
                          "bf1d737a4d46a19f3bced6905cc8b902", 142863)])
    body = listing.list_objects_v2_result(resp)
    assert tree(body) == tree(V2_DELIMITER_EXAMPLE)
    assert sequence(body)[-2:] == ["Contents", "CommonPrefixes"]


def test_list_objects_v2_continued_example_echoes_the_token_and_not_start_after() -> None:
    resp = pb.ListObjectsV2Response(
        name="bucket", key_count=1, max_keys=1, is_truncated=True, start_after="ignored",
        continuation_token="1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
        next_continuation_token="2ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
        contents=[summary("happyface.jpg", "2014-11-21T19:40:05.000Z",
                          "70ee1738b6b21e2c8a43f3a5ab0eee71", 11)])
    assert tree(listing.list_objects_v2_result(resp)) == tree(V2_CONTINUED_EXAMPLE)


def test_list_objects_v1_example() -> None:
    resp = pb.ListObjectsV2Response(name="bucket", max_keys=1000, contents=[
        summary("my-image.jpg", "2009-10-12T17:50:30.000Z",
                "fba9dede5f27731c9771645a39863328", 434234, owner=OWNER_ID,
                display="mtd@amazon.com")])
    body = listing.list_objects_v1_result(resp)
    assert tree(body) == tree(V1_EXAMPLE)
    assert b"KeyCount" not in body


def version(key: str, vid: str, latest: bool, when: str, etag: str = "", size: int = 0
            ) -> pb.ObjectVersionSummary:
    v = pb.ObjectVersionSummary(key=key, version_id=vid, is_latest=latest,
                                last_modified=parse_iso(when), delete_marker=not etag)
    if etag:
        v.etag, v.size, v.storage_class = f'"{etag}"', size, "STANDARD"
    return v


VERSIONS = pb.ListObjectVersionsResponse(name="bucket", prefix="my", max_keys=5, versions=[
    version("my-image.jpg", "3/L4kqtJl40Nr8X8gdRQBpUMLUo", True, "2009-10-12T17:50:30.000Z",
            "fba9dede5f27731c9771645a39863328", 434234),
    version("my-second-image.jpg", "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892", True,
            "2009-11-12T17:50:30.000Z"),
    version("my-second-image.jpg", "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893", False,
            "2009-10-10T17:50:30.000Z", "9b2cf535f27731c974343645a3985328", 166434),
])
MTD = pb.Owner(id=OWNER_ID, display_name="mtd@amazon.com")


def test_list_object_versions_example_interleaves_versions_and_markers() -> None:
    body = listing.list_versions_result(VERSIONS, owner=MTD)
    assert tree(body) == tree(VERSIONS_EXAMPLE)
    assert sequence(body)[-3:] == ["Version", "DeleteMarker", "Version"]


def test_botocore_reads_the_versions_back_in_its_two_lists() -> None:
    body = listing.list_versions_result(VERSIONS, owner=MTD)
    got = answer("list_object_versions", lambda _: body, Bucket="bucket")
    assert [v["VersionId"] for v in got["Versions"]] == [
        "3/L4kqtJl40Nr8X8gdRQBpUMLUo", "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893"]
    marker = got["DeleteMarkers"][0]
    assert (marker["Key"], marker["IsLatest"], marker["Owner"]["ID"]) == (
        "my-second-image.jpg", True, OWNER_ID)
    assert got["Versions"][0]["ETag"] == '"fba9dede5f27731c9771645a39863328"'
    assert got["Versions"][0]["LastModified"].isoformat() == "2009-10-12T17:50:30+00:00"


# --- queries, as botocore sends them ------------------------------------------------------


def test_list_objects_v2_query_from_botocore() -> None:
    request = sent("list_objects_v2", Bucket="b", Prefix="a b+c/", Delimiter="/", MaxKeys=7,
                   StartAfter="k", ContinuationToken="tok", FetchOwner=True)
    parsed, encoding = listing.list_objects_v2_request("b", query_of(request))
    assert parsed == pb.ListObjectsV2Request(bucket="b", prefix="a b+c/", delimiter="/",
                                             max_keys=7, start_after="k",
                                             continuation_token="tok", fetch_owner=True)
    assert encoding == "url"  # botocore asks for it on every listing


def test_list_objects_v1_query_from_botocore() -> None:
    request = sent("list_objects", Bucket="b", Prefix="p", Marker="m", MaxKeys=0)
    parsed, _ = listing.list_objects_v1_request("b", query_of(request))
    assert parsed == pb.ListObjectsV2Request(bucket="b", prefix="p", start_after="m",
                                             max_keys=0, fetch_owner=True)


def test_list_versions_query_from_botocore() -> None:
    request = sent("list_object_versions", Bucket="b", KeyMarker="k", VersionIdMarker="v",
                   MaxKeys=3)
    parsed, _ = listing.list_object_versions_request("b", query_of(request))
    assert parsed == pb.ListObjectVersionsRequest(bucket="b", key_marker="k",
                                                  version_id_marker="v", max_keys=3)


@pytest.mark.parametrize(("call", "query", "message", "details"), [
    (listing.list_objects_v2_request, {"max-keys": "ten"},
     "Provided max-keys not an integer or within integer range",
     {"ArgumentName": "max-keys", "ArgumentValue": "ten"}),
    (listing.list_objects_v2_request, {"max-keys": "-1"},
     "Argument maxKeys must be an integer between 0 and 2147483647",
     {"ArgumentName": "max-keys", "ArgumentValue": "-1"}),
    (listing.list_objects_v2_request, {"marker": "m"},
     "Marker unsupported with REST.GET.BUCKET in list-type=2", {"ArgumentName": "marker"}),
    (listing.list_objects_v2_request, {"continuation-token": ""},
     "The continuation token provided is incorrect", {"ArgumentName": "continuation-token"}),
    (listing.list_objects_v2_request, {"fetch-owner": "maybe"},
     "Invalid value for fetch-owner: maybe",
     {"ArgumentName": "fetch-owner", "ArgumentValue": "maybe"}),
    (listing.list_objects_v1_request, {"start-after": "x"},
     "startAfter only supported in REST.GET.BUCKET with list-type=2",
     {"ArgumentName": "start-after"}),
    (listing.list_objects_v1_request, {"continuation-token": "x"},
     "continuation-token only supported in REST.GET.BUCKET with list-type=2",
     {"ArgumentName": "continuation-token"}),
    (listing.list_object_versions_request, {"version-id-marker": "v"},
     "A version-id marker cannot be specified without a key marker.",
     {"ArgumentName": "version-id-marker", "ArgumentValue": "v"}),
    (listing.list_object_versions_request, {"encoding-type": "xml"},
     "Invalid Encoding Method specified in Request",
     {"ArgumentName": "encoding-type", "ArgumentValue": "xml"}),
])
def test_bad_listing_queries_get_s3s_invalid_argument(call, query, message, details) -> None:
    with pytest.raises(EngineError) as caught:
        call("b", query)
    e = caught.value
    assert (e.code, e.http_status, e.message, e.details) == ("InvalidArgument", 400, message,
                                                             details)


# --- encoding-type=url, end to end through botocore ------------------------------------------

AWKWARD = ["a b.txt", "a+b.txt", "100%.csv", "한글/x.txt", "tab\there", "amp&lt;", "~tilde",
           "cr\rlf\n", "q?x=1#y"]


def test_awkward_keys_survive_a_botocore_v2_listing() -> None:
    def respond(request) -> bytes:
        query, encoding = listing.list_objects_v2_request("b", query_of(request))
        assert query.prefix == "a b+/"
        resp = pb.ListObjectsV2Response(
            name="b", prefix=query.prefix, delimiter=query.delimiter, max_keys=1000,
            start_after=query.start_after, key_count=len(AWKWARD) + 1,
            common_prefixes=["a b+/dir /"],
            contents=[summary(k, "2020-01-01T00:00:00.000Z", "0" * 32, 1) for k in AWKWARD])
        return listing.list_objects_v2_result(resp, encoding=encoding)

    got = answer("list_objects_v2", respond, Bucket="b", Prefix="a b+/", Delimiter=" ",
                 StartAfter="a+ b")
    assert [c["Key"] for c in got["Contents"]] == AWKWARD
    assert got["CommonPrefixes"] == [{"Prefix": "a b+/dir /"}]
    assert (got["Prefix"], got["Delimiter"], got["StartAfter"]) == ("a b+/", " ", "a+ b")
    assert "EncodingType" not in got or got["EncodingType"] == "url"


def test_v1_next_marker_is_the_last_entry_of_a_delimited_page_and_botocore_decodes_it() -> None:
    def respond(request) -> bytes:
        _, encoding = listing.list_objects_v1_request("b", query_of(request))
        resp = pb.ListObjectsV2Response(
            name="b", delimiter="/", max_keys=2, is_truncated=True, start_after="a b",
            contents=[summary("a+b", "2020-01-01T00:00:00.000Z", "0" * 32, 1, owner="o")],
            common_prefixes=["c d/"])
        return listing.list_objects_v1_result(resp, encoding=encoding)

    got = answer("list_objects", respond, Bucket="b", Delimiter="/", Marker="a b")
    assert (got["Marker"], got["NextMarker"], got["IsTruncated"]) == ("a b", "c d/", True)
    assert got["Contents"][0]["Key"] == "a+b"


def test_v1_has_no_next_marker_without_a_delimiter() -> None:
    resp = pb.ListObjectsV2Response(name="b", max_keys=1, is_truncated=True, contents=[
        summary("k", "2020-01-01T00:00:00.000Z", "0" * 32, 1)])
    assert b"NextMarker" not in listing.list_objects_v1_result(resp)


def test_version_listing_encodes_markers_but_not_version_ids() -> None:
    resp = pb.ListObjectVersionsResponse(
        name="b", key_marker="k m", version_id_marker="v+1", is_truncated=True,
        next_key_marker="n+o", next_version_id_marker="w+2", max_keys=1,
        versions=[version("n+o", "w+2", True, "2020-01-01T00:00:00.000Z", "0" * 32, 1)])
    body = listing.list_versions_result(resp, encoding="url")
    assert b"<KeyMarker>k+m</KeyMarker><VersionIdMarker>v+1</VersionIdMarker>" in body
    assert b"<NextKeyMarker>n%2Bo</NextKeyMarker><NextVersionIdMarker>w+2" in body
    got = answer("list_object_versions", lambda _: body, Bucket="b")
    assert (got["KeyMarker"], got["NextKeyMarker"], got["NextVersionIdMarker"]) == (
        "k m", "n+o", "w+2")
    assert got["Versions"][0]["Key"] == "n+o"



KEYS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
XML_SAFE_KEYS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=[
    chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"]),
    min_size=1, max_size=40)


def _listing_of(keys: list[str], encoding: str) -> bytes:
    resp = pb.ListObjectsV2Response(
        name="b", max_keys=1000, key_count=len(keys),
        contents=[summary(k, "2020-01-01T00:00:00.000Z", "0" * 32, 1) for k in keys])
    return listing.list_objects_v2_result(resp, encoding=encoding)


@settings(max_examples=60, deadline=None)
@given(st.lists(KEYS, min_size=1, max_size=5))
def test_any_key_survives_botocore_under_encoding_type_url(keys: list[str]) -> None:
    def respond(request) -> bytes:
        _, encoding = listing.list_objects_v2_request("b", query_of(request))
        return _listing_of(keys, encoding)

    got = answer("list_objects_v2", respond, Bucket="b")
    assert [c["Key"] for c in got["Contents"]] == keys


@settings(max_examples=60, deadline=None)
@given(st.lists(XML_SAFE_KEYS, min_size=1, max_size=5))
def test_keys_xml_can_carry_survive_without_encoding(keys: list[str]) -> None:
    got = answer("list_objects_v2", lambda _: _listing_of(keys, ""), Bucket="b",
                 EncodingType="url")  # asked by the caller, so botocore decodes nothing
    assert [c["Key"] for c in got["Contents"]] == keys
