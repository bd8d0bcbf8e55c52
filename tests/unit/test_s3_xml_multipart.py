"""Multipart, copy and DeleteObjects documents: AWS's examples, botocore's bodies and
botocore's reading of ours."""

from __future__ import annotations

import pytest
from helpers_s3_xml import answer, query_of, sent, sent_body, tree

from engine.api.s3.xml import deletes, multipart
from engine.api.s3.xml.base import parse_iso
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def code_of(call, *args) -> tuple[str, str]:
    with pytest.raises(EngineError) as caught:
        call(*args)
    return caught.value.code, caught.value.message


# --- CreateMultipartUpload / CompleteMultipartUpload -----------------------------------------


def test_initiate_example() -> None:
    expected = f"""<InitiateMultipartUploadResult {NS}>
      <Bucket>example-bucket</Bucket>
      <Key>example-object</Key>
      <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
    </InitiateMultipartUploadResult>"""
    resp = pb.CreateMultipartUploadResponse(
        bucket="example-bucket", key="example-object",
        upload_id="VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
    body = multipart.initiate_result(resp)
    assert tree(body) == tree(expected)
    got = answer("create_multipart_upload", lambda _: body, Bucket="b", Key="k")
    assert got["UploadId"] == resp.upload_id


COMPLETE_EXAMPLE = f"""<CompleteMultipartUpload {NS}>
  <Part>
    <PartNumber>1</PartNumber>
    <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
  </Part>
</CompleteMultipartUpload>""".encode()


def test_complete_example_request() -> None:
    parsed = multipart.parse_complete(COMPLETE_EXAMPLE, "b", "k", "u")
    assert parsed.request == pb.CompleteMultipartUploadRequest(
        bucket="b", key="k", upload_id="u", parts=[
            pb.CompletedPart(part_number=1, etag='"a54357aff0632cce46d942af68356b38"'),
            pb.CompletedPart(part_number=2, etag='"0c78aef83f66abc1fa1e8477f296d394"'),
            pb.CompletedPart(part_number=3, etag='"acbd18db4cc2f85cedef654fccc4a4d8"')])
    assert parsed.checksums == {}


def test_complete_body_from_botocore_keeps_part_checksums() -> None:
    body = sent_body("complete_multipart_upload", Bucket="b", Key="k", UploadId="u",
                     MultipartUpload={"Parts": [
                         {"PartNumber": 1, "ETag": '"e1"', "ChecksumCRC32C": "yZRlqg=="},
                         {"PartNumber": 2, "ETag": '"e2"', "ChecksumSHA256": "x" * 44},
                         {"PartNumber": 10000, "ETag": '"e3"'}]})
    parsed = multipart.parse_complete(body, "b", "k", "u")
    assert [(p.part_number, p.etag) for p in parsed.request.parts] == [
        (1, '"e1"'), (2, '"e2"'), (10000, '"e3"')]
    assert parsed.checksums == {1: {"CRC32C": "yZRlqg=="}, 2: {"SHA256": "x" * 44}}


@pytest.mark.parametrize(("numbers", "code"), [
    ([2, 1], "InvalidPartOrder"),
    ([1, 1], "InvalidPartOrder"),
    ([0], "InvalidArgument"),
    ([10001], "InvalidArgument"),
])
def test_complete_refuses_bad_part_lists(numbers: list[int], code: str) -> None:
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>e</ETag></Part>" for n in numbers)
    body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
    assert code_of(multipart.parse_complete, body, "b", "k", "u")[0] == code


def test_invalid_part_order_carries_s3s_message() -> None:
    body = sent_body("complete_multipart_upload", Bucket="b", Key="k", UploadId="u",
                     MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": "a"},
                                                {"PartNumber": 1, "ETag": "b"}]})
    assert code_of(multipart.parse_complete, body, "b", "k", "u") == (
        "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must "
        "be specified in order by part number.")


@pytest.mark.parametrize("parts", [
    "", "<Part><ETag>e</ETag></Part>", "<Part><PartNumber>1</PartNumber></Part>",
    "<Part><PartNumber>one</PartNumber><ETag>e</ETag></Part>",
])
def test_complete_without_usable_parts_is_malformed(parts: str) -> None:
    body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
    assert code_of(multipart.parse_complete, body, "b", "k", "u")[0] == "MalformedXML"


def test_complete_result_example_and_botocore() -> None:
    expected = f"""<CompleteMultipartUploadResult {NS}>
      <Location>http://Example-Bucket.s3.us-east-1.amazonaws.com/Example-Object</Location>
      <Bucket>Example-Bucket</Bucket>
      <Key>Example-Object</Key>
      <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
    </CompleteMultipartUploadResult>"""
    resp = pb.CompleteMultipartUploadResponse(
        location="http://Example-Bucket.s3.us-east-1.amazonaws.com/Example-Object",
        bucket="Example-Bucket", key="Example-Object",
        etag='"3858f62230ac3c915f300c664312c11f-9"')
    assert tree(multipart.complete_result(resp)) == tree(expected)
    resp.checksum_crc32c = "yZRlqg=="
    got = answer("complete_multipart_upload", lambda _: multipart.complete_result(
        resp, location="http://127.0.0.1:9000/Example-Bucket/Example-Object"),
        Bucket="b", Key="k", UploadId="u")
    assert got["ETag"] == '"3858f62230ac3c915f300c664312c11f-9"'
    assert (got["ChecksumCRC32C"], got["ChecksumType"]) == ("yZRlqg==", "FULL_OBJECT")
    assert got["Location"] == "http://127.0.0.1:9000/Example-Bucket/Example-Object"


# --- ListMultipartUploads / ListParts --------------------------------------------------------

UPLOADS_EXAMPLE = f"""<ListMultipartUploadsResult {NS}>
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator>
      <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
      <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
    </Initiator>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>OwnerDisplayName</DisplayName>
    </Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>my-movie.m2ts</Key>
    <UploadId>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</UploadId>
    <Initiator>
      <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
      <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
    </Initiator>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>OwnerDisplayName</DisplayName>
    </Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
</ListMultipartUploadsResult>"""
OWNER = pb.Owner(id="75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
                 display_name="OwnerDisplayName")
INITIATOR = pb.Owner(id="arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de",
                     display_name="user1-11111a31-17b5-4fb7-9df5-b111111f13de")


def test_list_uploads_example() -> None:
    when = parse_iso("2010-11-10T20:48:33.000Z")
    resp = pb.ListMultipartUploadsResponse(
        bucket="bucket", next_key_marker="my-movie.m2ts",
        next_upload_id_marker="YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ", max_uploads=3,
        is_truncated=True, uploads=[
            pb.UploadSummary(key="my-divisor", initiated=when, storage_class="STANDARD",
                             upload_id="XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw"),
            pb.UploadSummary(key="my-movie.m2ts", initiated=when, storage_class="STANDARD",
                             upload_id="YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ")])
    body = multipart.list_uploads_result(resp, owner=OWNER, initiator=INITIATOR)
    assert tree(body) == tree(UPLOADS_EXAMPLE)
    got = answer("list_multipart_uploads", lambda _: body, Bucket="bucket")
    assert [u["Key"] for u in got["Uploads"]] == ["my-divisor", "my-movie.m2ts"]
    assert got["Uploads"][0]["Initiator"]["ID"] == INITIATOR.id
    assert got["NextUploadIdMarker"] == "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ"


def test_list_uploads_query_and_encoding_through_botocore() -> None:
    def respond(request) -> bytes:
        query, encoding = multipart.list_uploads_request("b", query_of(request))
        assert query == pb.ListMultipartUploadsRequest(
            bucket="b", prefix="a b", delimiter="/", key_marker="k+1", upload_id_marker="u",
            max_uploads=2)
        resp = pb.ListMultipartUploadsResponse(
            bucket="b", prefix=query.prefix, delimiter="/", key_marker=query.key_marker,
            upload_id_marker="u", max_uploads=2, common_prefixes=["a b/"],
            uploads=[pb.UploadSummary(key="a b+c", upload_id="u2",
                                      initiated=parse_iso("2020-01-01T00:00:00Z"))])
        return multipart.list_uploads_result(resp, encoding=encoding or "url", owner=OWNER)

    got = answer("list_multipart_uploads", respond, Bucket="b", Prefix="a b", Delimiter="/",
                 KeyMarker="k+1", UploadIdMarker="u", MaxUploads=2, EncodingType="url")
    # The caller asked for url itself, so botocore hands back what S3 sent, encoded.
    assert got["Uploads"][0]["Key"] == "a+b%2Bc"
    assert (got["KeyMarker"], got["Prefix"]) == ("k%2B1", "a+b")


def test_upload_id_marker_alone_is_ignored_as_s3_documents() -> None:
    query, _ = multipart.list_uploads_request("b", {"upload-id-marker": "u"})
    assert query.upload_id_marker == ""
    with pytest.raises(EngineError) as caught:
        multipart.list_uploads_request("b", {"max-uploads": "-5"})
    assert caught.value.message == ("Argument max-uploads must be an integer between 0 and "
                                    "2147483647")


PARTS_EXAMPLE = f"""<ListPartsResult {NS}>
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
      <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
      <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>"""


def test_list_parts_example_and_query() -> None:
    resp = pb.ListPartsResponse(
        bucket="example-bucket", key="example-object",
        upload_id="XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA",
        storage_class="STANDARD", part_number_marker=1, next_part_number_marker=3,
        max_parts=2, is_truncated=True, parts=[
            pb.PartSummary(part_number=2, last_modified=parse_iso("2010-11-10T20:48:34.000Z"),
                           etag='"7778aef83f66abc1fa1e8477f296d394"', size=10485760),
            pb.PartSummary(part_number=3, last_modified=parse_iso("2010-11-10T20:48:33.000Z"),
                           etag='"aaaa18db4cc2f85cedef654fccc4a4x8"', size=10485760)])
    body = multipart.list_parts_result(
        resp, owner=pb.Owner(id=OWNER.id, display_name="someName"), initiator=pb.Owner(
            id="arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx",
            display_name="umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx"))
    assert tree(body) == tree(PARTS_EXAMPLE)

    def respond(request) -> bytes:
        query = multipart.list_parts_request("example-bucket", "example-object",
                                             query_of(request))
        assert query == pb.ListPartsRequest(bucket="example-bucket", key="example-object",
                                            upload_id=resp.upload_id, part_number_marker=1,
                                            max_parts=2)
        return body

    got = answer("list_parts", respond, Bucket="example-bucket", Key="example-object",
                 UploadId=resp.upload_id, MaxParts=2, PartNumberMarker=1)
    assert [p["PartNumber"] for p in got["Parts"]] == [2, 3]
    assert (got["NextPartNumberMarker"], got["IsTruncated"]) == (3, True)


def test_list_parts_query_errors() -> None:
    with pytest.raises(EngineError) as caught:
        multipart.list_parts_request("b", "k", {"uploadId": "u", "max-parts": "many"})
    assert caught.value.message == "Provided max-parts not an integer or within integer range"


# --- copies ----------------------------------------------------------------------------------


def test_copy_results_example_and_botocore() -> None:
    when = parse_iso("2009-10-28T22:32:00.000Z")
    etag = '"9b2cf535f27731c974343645a3985328"'
    for name, body, method, extra in (
        ("CopyObjectResult", multipart.copy_object_result(
            pb.CopyObjectResponse(etag=etag, last_modified=when)), "copy_object", {}),
        ("CopyPartResult", multipart.copy_part_result(
            pb.UploadPartCopyResponse(etag=etag, last_modified=when)), "upload_part_copy",
         {"UploadId": "u", "PartNumber": 1}),
    ):
        assert tree(body) == tree(f"<{name}><LastModified>2009-10-28T22:32:00.000Z</LastModified>"
                                  f"<ETag>{etag}</ETag></{name}>")
        got = answer(method, lambda _, b=body: b, Bucket="b", Key="k", CopySource="s/k", **extra)
        assert got[name]["ETag"] == etag


# --- DeleteObjects ---------------------------------------------------------------------------


def test_delete_example_request_and_result() -> None:
    request = deletes.parse_delete(f"""<Delete {NS}>
      <Object><Key>sample1.txt</Key></Object>
      <Object><Key>sample2.txt</Key></Object>
    </Delete>""".encode(), "b")
    assert request == pb.DeleteObjectsRequest(bucket="b", objects=[
        pb.ObjectIdentifier(key="sample1.txt"), pb.ObjectIdentifier(key="sample2.txt")])
    expected = f"""<DeleteResult {NS}>
      <Deleted><Key>sample1.txt</Key></Deleted>
      <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message>
      </Error>
    </DeleteResult>"""
    resp = pb.DeleteObjectsResponse(
        deleted=[pb.DeletedObject(key="sample1.txt")],
        errors=[pb.DeleteError(key="sample2.txt", code="AccessDenied", message="Access Denied")])
    assert tree(deletes.delete_result(resp)) == tree(expected)


def test_delete_marker_result_through_botocore() -> None:
    resp = pb.DeleteObjectsResponse(deleted=[
        pb.DeletedObject(key="SampleDocument.txt", delete_marker=True,
                         delete_marker_version_id="NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s"),
        pb.DeletedObject(key="a&b <c>", version_id="OYcLXagmS.WaD..oyH4KRguB95_YhLs7")])
    got = answer("delete_objects", lambda _: deletes.delete_result(resp), Bucket="b",
                 Delete={"Objects": [{"Key": "x"}]})
    assert got["Deleted"] == [
        {"Key": "SampleDocument.txt", "DeleteMarker": True,
         "DeleteMarkerVersionId": "NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s"},
        {"Key": "a&b <c>", "VersionId": "OYcLXagmS.WaD..oyH4KRguB95_YhLs7"}]


def test_delete_body_from_botocore_with_awkward_keys_and_quiet() -> None:
    keys = [" lead", "a&b", "<x>", "tab\tand\nnewline", "한글", "cr\rkey"]
    body = sent_body("delete_objects", Bucket="b", Delete={
        "Objects": [{"Key": k} for k in keys] + [{"Key": "v", "VersionId": "3/L4kqtJl40"}],
        "Quiet": True})
    request = deletes.parse_delete(body, "b")
    assert request.quiet is True
    assert [o.key for o in request.objects] == [*keys, "v"]
    assert request.objects[-1].version_id == "3/L4kqtJl40"


def test_delete_key_limits_match_s3() -> None:
    def body(n: int) -> bytes:
        return sent_body("delete_objects", Bucket="b", Delete={
            "Objects": [{"Key": f"k{i:04d}" + "x" * 1000} for i in range(n)]})

    assert len(deletes.parse_delete(body(1000), "b").objects) == 1000
    assert code_of(deletes.parse_delete, body(1001), "b")[0] == "MalformedXML"
    assert code_of(deletes.parse_delete, f"<Delete {NS}><Quiet>true</Quiet></Delete>".encode(),
                   "b")[0] == "MalformedXML"
    assert code_of(deletes.parse_delete, b"<Delete><Object><VersionId>v</VersionId></Object>"
                   b"</Delete>", "b")[0] == "MalformedXML"


def test_conditional_deletes_are_refused_not_ignored() -> None:
    body = sent("delete_objects", Bucket="b", Delete={"Objects": [{"Key": "k", "ETag": '"e"'}]}
                ).body
    assert code_of(deletes.parse_delete, body, "b")[0] == "NotImplemented"
