"""S3 error answers: the document AWS's "Error responses" page shows, read back by
botocore's own REST-XML parser, with S3's statuses, and no body for HEAD or 304."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from botocore.parsers import RestXMLParser

from engine.api.s3.documents_core import (
    error_document,
    list_buckets_document,
    location_document,
    parse_create_bucket,
)
from engine.api.s3.errors import error_response
from engine.errors import EngineError

# AWS S3 API Reference, "Error responses": the REST error response example.
AWS_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>"""


def _parsed(body: bytes, status: int) -> dict:
    response = {"status_code": status, "headers": {}, "body": body}
    return RestXMLParser().parse(response, None)


def test_error_document_matches_aws_example():
    ours = error_document("NoSuchKey", "The resource you requested does not exist", [],
                          "/mybucket/myfoto.jpg", "4442587FB7D0A2F9", "host")
    mine, theirs = ET.fromstring(ours), ET.fromstring(AWS_EXAMPLE)
    for name in ("Code", "Message", "Resource", "RequestId"):
        assert mine.findtext(name) == theirs.findtext(name)
    assert ours.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    parsed = _parsed(ours, 404)
    assert parsed["Error"] == {"Code": "NoSuchKey", "Message":
                               "The resource you requested does not exist",
                               "Resource": "/mybucket/myfoto.jpg"}


def test_error_response_status_details_and_escaping():
    err = EngineError("NoSuchKey", Key="a<b>&c", action="s3:GetObject")
    response = error_response(err, head=False, resource="/b/a<b>&c", request_id="RID",
                              host="HID")
    assert response.status == 404 and response.content_type == "application/xml"
    assert response.headers["x-amz-request-id"] == "RID"
    parsed = _parsed(response.body, 404)
    assert parsed["Error"]["Key"] == "a<b>&c"
    assert "action" not in parsed["Error"]  # the engine's own details stay out


def test_head_and_not_modified_have_no_body():
    head = error_response(EngineError("NoSuchKey"), head=True, resource="/b/k",
                          request_id="R", host="H")
    assert head.status == 404 and not head.body
    not_modified = error_response(EngineError("NotModified"), head=False, resource="/b/k",
                                  request_id="R", host="H")
    assert not_modified.status == 304 and not not_modified.body


def test_invalid_range_names_the_size():
    err = EngineError("InvalidRange", RangeRequested="bytes=9-", ActualObjectSize="5")
    response = error_response(err, head=False, resource="/b/k", request_id="R", host="H")
    assert response.status == 416 and response.headers["Content-Range"] == "bytes */5"


def test_list_buckets_document_is_read_by_botocore():
    from engine.api.s3.documents_core import BucketEntry

    body = list_buckets_document([BucketEntry("photos", 1_575_000_000_123_000_000,
                                              "us-east-1")], "owner-id")
    root = ET.fromstring(body)
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    assert root.findtext(f"{ns}Owner/{ns}ID") == "owner-id"
    assert root.findtext(f"{ns}Buckets/{ns}Bucket/{ns}CreationDate") == \
        "2019-11-29T04:00:00.123Z"


def test_location_and_create_bucket_documents():
    assert b">eu-west-1</LocationConstraint>" in location_document("eu-west-1")
    assert b"<LocationConstraint xmlns=" in location_document("us-east-1")
    config = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              b"<LocationConstraint>eu-west-1</LocationConstraint>"
              b"</CreateBucketConfiguration>")
    assert parse_create_bucket(config) == "eu-west-1"
    assert parse_create_bucket(b"") == ""


def test_hostile_documents_are_malformed_xml():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b"<CreateBucketConfiguration>&a;</CreateBucketConfiguration>")
    for body in (bomb, b"<not xml", b"<Other/>", b"<a>" * 100_000):
        try:
            parse_create_bucket(body)
        except EngineError as err:
            assert err.code == "MalformedXML"
        else:
            raise AssertionError(f"accepted {body[:40]!r}")
