"""S3 conformance, errors and limits: what a client mistake gets (AWS's error code and
status, S3's XML document, never a 500): Content-MD5 and Content-Length, the signature
and its dates, x-amz-content-sha256, header and document sizes, hardened XML, methods
and sub-resources, and DeleteObjects' own limits, as AWS's "Error responses" reference
and each operation's page list them and the s3-tests suite probes them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from credentials import REGION, ROOT_KEY_ID
from helpers_s3_conformance import Node, error_of, failure, find, text, xml_of
from helpers_s3_http import ROOT, bucket_name, raw_exchange, s3_client, signed_headers

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

BODY = b"a body of some bytes"


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = bucket_name("errors")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=BODY)
    return name


def b64md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def absent(node: Node, bucket: str, key: str) -> bool:
    return node.request("HEAD", f"/{bucket}/{key}").status == 404


# -- every error is S3's document -----------------------------------------------------------


def test_an_error_document_has_s3s_shape(node, bucket):
    answer = node.request("GET", f"/{bucket}/missing")
    assert answer.headers["content-type"] == "application/xml"
    assert answer.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    doc = xml_of(answer.body)
    assert [child.tag for child in doc][:2] == ["Code", "Message"]
    assert {"Resource", "RequestId", "HostId"} <= {child.tag for child in doc}
    assert doc.findtext("RequestId") == answer.headers["x-amz-request-id"]


def test_every_answer_carries_request_ids(node, bucket):
    for method, target in (("GET", f"/{bucket}/k"), ("HEAD", f"/{bucket}/k"),
                           ("GET", f"/{bucket}/missing"), ("HEAD", f"/{bucket}/missing"),
                           ("GET", "/"), ("DELETE", f"/{bucket}/gone")):
        answer = node.request(method, target)
        assert len(answer.headers["x-amz-request-id"]) == 16, (method, target)
        assert answer.headers["x-amz-id-2"], (method, target)


def test_boto3_sees_the_request_id_of_an_error(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="missing")
    meta = exc.value.response["ResponseMetadata"]
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amz-request-id"]


# -- Content-MD5 ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "YWJyYWNhZGFicmE=", "not base64 at all!", base64.b64encode(b"x" * 17).decode(),
    ""], ids=["short", "garbage", "seventeen-bytes", "empty"])
def test_an_unreadable_content_md5_is_invalid_digest(node, bucket, value):
    key = f"md5-{hashlib.md5(value.encode()).hexdigest()[:8]}"
    answer = node.request("PUT", f"/{bucket}/{key}", {"Content-MD5": value}, BODY)
    assert answer.status == 400
    assert error_of(answer) == ("InvalidDigest", "The Content-MD5 you specified is not valid.")
    assert absent(node, bucket, key)


def test_a_content_md5_of_other_bytes_is_bad_digest(node, bucket):
    answer = node.request("PUT", f"/{bucket}/md5-bad", {"Content-MD5": b64md5(b"other")}, BODY)
    assert answer.status == 400 and error_of(answer)[0] == "BadDigest"
    assert absent(node, bucket, "md5-bad")


def test_a_part_with_a_bad_content_md5_is_bad_digest(s3, node, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp-md5")["UploadId"]
    answer = node.request("PUT", f"/{bucket}/mp-md5?partNumber=1&uploadId={upload_id}",
                          {"Content-MD5": b64md5(b"other")}, BODY)
    assert answer.status == 400 and error_of(answer)[0] == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="mp-md5", UploadId=upload_id).get("Parts",
                                                                               []) == []


# -- Content-Length and the body ------------------------------------------------------------


def test_a_put_without_a_length_is_411_missing_content_length(node, bucket):
    answer = node.request("PUT", f"/{bucket}/no-length")  # no body, no Content-Length
    assert answer.status == 411
    assert error_of(answer) == ("MissingContentLength",
                                "You must provide the Content-Length HTTP header.")


def test_a_body_cut_short_stores_nothing(node, bucket):
    url = f"{node.url}/{bucket}/short"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "1000"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    reply = raw_exchange(node.url, f"PUT /{bucket}/short HTTP/1.1\r\n{head}\r\n".encode()
                         + BODY, half_close=True)
    assert reply == b"" or b"<Code>IncompleteBody</Code>" in reply
    assert absent(node, bucket, "short")


def test_an_unreadable_content_length_is_an_s3_error(node, bucket):
    """aiohttp's parser refuses it before the pipeline runs; the answer is still S3's
    (HTTP/1.1, XML, request id), and nothing is stored."""
    url = f"{node.url}/{bucket}/bad-length"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "-1"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    reply = raw_exchange(node.url, f"PUT /{bucket}/bad-length HTTP/1.1\r\n{head}"
                         "Connection: close\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"<Code>BadRequest</Code><Message>An error occurred when parsing the HTTP " \
        b"request: invalid or repeated Content-Length.</Message>" in reply
    assert b"x-amz-request-id" in reply.lower()
    assert absent(node, bucket, "bad-length")


def test_a_declared_length_over_5_gib_is_entity_too_large(node, bucket):
    url = f"{node.url}/{bucket}/huge"
    size = str(5 * 1024 ** 3 + 1)
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": size,
                                                             "Expect": "100-continue"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    reply = raw_exchange(node.url, f"PUT /{bucket}/huge HTTP/1.1\r\n{head}\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 400") and b"<Code>EntityTooLarge</Code>" in reply
    assert absent(node, bucket, "huge")


def test_a_payload_hash_of_other_bytes_is_content_sha256_mismatch(node, bucket):
    wrong = hashlib.sha256(b"other").hexdigest()
    answer = node.request("PUT", f"/{bucket}/sha", body=BODY, payload_hash=wrong)
    assert answer.status == 400
    assert error_of(answer) == ("XAmzContentSHA256Mismatch", "The provided "
                                "'x-amz-content-sha256' header does not match what was "
                                "computed.")
    assert absent(node, bucket, "sha")


def test_an_unknown_payload_mode_is_refused(node, bucket):
    answer = node.request("PUT", f"/{bucket}/mode", body=BODY, payload_hash="SOMETHING-ELSE")
    assert answer.status == 400
    assert error_of(answer)[0] == "InvalidArgument"


# -- the signature --------------------------------------------------------------------------


def test_an_unknown_access_key_is_invalid_access_key_id(shared_server, bucket):
    s3 = s3_client(shared_server.http_url, key="AKIAUNKNOWNKEY000000", secret="x")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    got = failure(exc)
    assert (got.status, got.code) == (403, "InvalidAccessKeyId")
    assert got.message == "The AWS Access Key Id you provided does not exist in our records."
    assert got.error["AWSAccessKeyId"] == "AKIAUNKNOWNKEY000000"


def test_a_wrong_secret_is_signature_does_not_match(shared_server, bucket):
    s3 = s3_client(shared_server.http_url, key=ROOT_KEY_ID, secret="wrong-secret")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    got = failure(exc)
    assert (got.status, got.code) == (403, "SignatureDoesNotMatch")
    assert got.message == ("The request signature we calculated does not match the signature "
                           "you provided. Check your key and signing method.")
    assert got.error["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert "CanonicalRequest" in got.error


def test_a_tampered_header_breaks_the_signature(node, bucket):
    headers = signed_headers("GET", f"{node.url}/{bucket}/k", hashlib.sha256(b"").hexdigest())
    stamp = headers["X-Amz-Date"]  # ...THHMMSSZ: one second off, never the same stamp
    headers["X-Amz-Date"] = stamp[:-3] + ("01" if stamp[-3:-1] == "00" else "00") + "Z"
    answer = node.request("GET", f"/{bucket}/k", headers, sign=False)
    assert answer.status == 403 and error_of(answer)[0] == "SignatureDoesNotMatch"


NO_DATE = ("AWS4-HMAC-SHA256 Credential=AKIAENGINETESTROOT01/20240101/us-east-1/s3/"
           "aws4_request, SignedHeaders=host, Signature=" + "0" * 64)


@pytest.mark.parametrize(("value", "status", "code", "message"), [
    ("Bearer abc", 400, "InvalidArgument", "Unsupported Authorization Type"),
    ("AWS4-HMAC-SHA256 Credential=x", 400, "AuthorizationHeaderMalformed",
     "The authorization header is malformed; the authorization header requires three "
     "components: Credential, SignedHeaders, and Signature."),
    (NO_DATE, 403, "AccessDenied",
     "AWS authentication requires a valid Date or x-amz-date header"),
], ids=["other-scheme", "one-component", "no-date"])
def test_a_malformed_authorization_header(node, bucket, value, status, code, message):
    answer = node.request("GET", f"/{bucket}/k", {"Authorization": value}, sign=False)
    assert answer.status == status
    assert error_of(answer) == (code, message)


def test_sigv2_headers_ask_for_sigv4(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"Authorization": "AWS AKIAX:c2lnbmF0dXJl",
                                                  "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
                          sign=False)
    assert answer.status == 400 and error_of(answer)[0] == "InvalidRequest"
    assert "AWS4-HMAC-SHA256" in error_of(answer)[1]


def test_a_request_signed_a_day_ago_is_request_time_too_skewed(node, bucket, monkeypatch):
    day_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: day_ago)
    headers = signed_headers("GET", f"{node.url}/{bucket}/k", hashlib.sha256(b"").hexdigest())
    answer = node.request("GET", f"/{bucket}/k", headers, sign=False)
    assert answer.status == 403
    code, message = error_of(answer)
    assert code == "RequestTimeTooSkewed"
    assert message == ("The difference between the request time and the current time is "
                       "too large.")
    doc = xml_of(answer.body)
    assert doc.findtext("ServerTime") and doc.findtext("MaxAllowedSkewMilliseconds") == "900000"
    assert doc.findtext("RequestTime") == day_ago.strftime("%Y%m%dT%H%M%SZ")


def test_a_signature_for_another_region_names_ours(node, bucket):
    headers = signed_headers("GET", f"{node.url}/{bucket}/k", hashlib.sha256(b"").hexdigest(),
                             region="eu-central-1")
    answer = node.request("GET", f"/{bucket}/k", headers, sign=False)
    assert answer.status == 400
    assert error_of(answer)[0] == "AuthorizationHeaderMalformed"
    assert xml_of(answer.body).findtext("Region") == "us-east-1"


def test_a_presigned_link_may_not_live_longer_than_a_week(shared_server, node, bucket):
    s3 = s3_client(shared_server.http_url, signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=604801)
    target = url[len(node.url):]
    answer = node.request("GET", target, sign=False)
    assert answer.status == 400
    assert error_of(answer)[0] == "AuthorizationQueryParametersError"
    ok = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                   ExpiresIn=604800)
    assert node.request("GET", ok[len(node.url):], sign=False).body == BODY


# -- sizes and documents --------------------------------------------------------------------


def test_a_header_section_over_8_kib_is_refused(node, bucket):
    answer = node.request("PUT", f"/{bucket}/big-headers",
                          {"x-amz-foo-a": "x" * 4000, "x-amz-foo-b": "y" * 4500}, BODY)
    assert answer.status == 400
    assert error_of(answer) == ("RequestHeaderSectionTooLarge", "Your request header section "
                                "exceeds the maximum allowed size.")
    assert absent(node, bucket, "big-headers")


def test_a_configuration_document_that_is_too_big_is_refused(node, bucket):
    tag = b"<Tag><Key>k</Key><Value>v</Value></Tag>"
    body = b"<Tagging><TagSet>" + tag * 3000 + b"</TagSet></Tagging>"  # 120 KB
    answer = node.request("PUT", f"/{bucket}/k?tagging", body=body)
    assert answer.status == 400
    assert error_of(answer) == ("MaxMessageLengthExceeded", "Your request was too big.")


MALFORMED = ("MalformedXML", "The XML you provided was not well-formed or did not validate "
             "against our published schema")


@pytest.mark.parametrize(("body", "error"), [
    (b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e "boom">]>'
     b"<Tagging><TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>",
     MALFORMED),
    (b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b"<Tagging><TagSet><Tag><Key>&x;</Key><Value>v</Value></Tag></TagSet></Tagging>",
     MALFORMED),
    (b"\xff\xfe<not utf8>", MALFORMED),
    (b"", ("MissingRequestBodyError", "Request Body is empty")),
], ids=["entity", "external-entity", "not-utf8", "empty"])
def test_hostile_or_broken_documents_are_refused(s3, node, bucket, body, error):
    answer = node.request("PUT", f"/{bucket}/k?tagging", body=body)
    assert answer.status == 400 and error_of(answer) == error
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


# -- methods, sub-resources and paths -------------------------------------------------------


@pytest.mark.parametrize(("method", "target"), [
    ("DELETE", "/"), ("PUT", "/"), ("POST", "/"), ("PATCH", "/BUCKET"),
    ("POST", "/BUCKET/k"), ("PATCH", "/BUCKET/k"),
])
def test_a_method_a_resource_has_no_operation_for_is_405(node, bucket, method, target):
    answer = node.request(method, target.replace("BUCKET", bucket), body=b"")
    assert answer.status == 405
    assert error_of(answer)[0] == "MethodNotAllowed"


@pytest.mark.parametrize("subresource", ["logging", "replication",
                                         "encryption", "object-lock", "accelerate",
                                         "requestPayment", "analytics", "inventory",
                                         "metrics", "intelligent-tiering"])
def test_a_known_subresource_not_served_is_501(node, bucket, subresource):
    answer = node.request("GET", f"/{bucket}?{subresource}")
    assert answer.status == 501 and error_of(answer)[0] == "NotImplemented"


def test_unknown_query_parameters_are_ignored(node, bucket):
    answer = node.request("GET", f"/{bucket}/k?x-id=GetObject&cache-buster=1")
    assert answer.status == 200 and answer.body == BODY


@pytest.mark.parametrize("path", ["/BUCKET/%FF", "/BUCKET/%C3%28", "/%FFbucket"])
def test_a_path_that_is_not_utf8_is_invalid_uri(node, bucket, path):
    answer = node.request("GET", path.replace("BUCKET", bucket))
    assert answer.status == 400
    assert error_of(answer) == ("InvalidURI", "Couldn't parse the specified URI.")


def test_an_expected_bucket_owner_of_another_account_is_access_denied(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"x-amz-expected-bucket-owner": "111122223333"})
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"


# -- DeleteObjects --------------------------------------------------------------------------


def delete_document(*keys: str, quiet: bool = False) -> bytes:
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    flag = "<Quiet>true</Quiet>" if quiet else ""
    return f"<Delete>{flag}{objects}</Delete>".encode()


def test_delete_objects_reports_every_key(s3, node, bucket):
    for key in ("d1", "d2"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    body = delete_document("d1", "d2", "never-there")
    answer = node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(body)}, body)
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("DeleteResult")
    assert sorted(text(d, "Key") or "" for d in find(doc, "Deleted")) == [
        "d1", "d2", "never-there"]
    assert find(doc, "Error") == []
    assert absent(node, bucket, "d1") and absent(node, bucket, "d2")


def test_quiet_delete_objects_reports_nothing_that_went_well(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="q1", Body=b"x")
    body = delete_document("q1", quiet=True)
    answer = node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(body)}, body)
    assert answer.status == 200 and find(xml_of(answer.body), "Deleted") == []
    assert absent(node, bucket, "q1")


def test_delete_objects_takes_at_most_1000_keys(node, bucket):
    body = delete_document(*(f"k{i}" for i in range(1001)))
    answer = node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(body)}, body)
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"
    ok = delete_document(*(f"k{i}" for i in range(1000)))
    assert node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(ok)},
                        ok).status == 200


@pytest.mark.parametrize("body", [b"<Delete></Delete>", b"<Delete><Object></Object></Delete>",
                                  b"<Delete><Object><Key>a</Key>", b"<Other/>"],
                         ids=["no-objects", "no-key", "truncated", "wrong-root"])
def test_a_malformed_delete_document_is_malformed_xml(node, bucket, body):
    answer = node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(body)}, body)
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


def test_delete_objects_needs_an_integrity_header(node, bucket):
    body = delete_document("a")
    answer = node.request("POST", f"/{bucket}?delete", body=body)
    assert answer.status == 400 and error_of(answer)[0] == "InvalidRequest"
    wrong = node.request("POST", f"/{bucket}?delete", {"Content-MD5": b64md5(b"x")}, body)
    assert wrong.status == 400 and error_of(wrong)[0] == "BadDigest"


def test_delete_objects_through_boto3(s3, bucket):
    s3.put_object(Bucket=bucket, Key="b1", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b1"},
                                                                  {"Key": "b2"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["b1", "b2"]
    assert "Errors" not in result


# -- features this node does not have must not be silently dropped ---------------------------


SSE_C = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
         "x-amz-server-side-encryption-customer-key":
             base64.b64encode(b"0123456789abcdef0123456789abcdef").decode(),
         "x-amz-server-side-encryption-customer-key-MD5":
             b64md5(b"0123456789abcdef0123456789abcdef")}


@pytest.mark.parametrize("headers", [SSE_C, {"x-amz-server-side-encryption": "aws:kms"}],
                         ids=["sse-c", "sse-kms"])
def test_encryption_the_node_cannot_do_is_refused(node, bucket, headers):
    answer = node.request("PUT", f"/{bucket}/encrypted", headers, BODY)
    assert answer.status == 501, answer.status
    assert error_of(answer)[0] == "NotImplemented"
    assert absent(node, bucket, "encrypted")


def test_object_lock_headers_need_an_object_lock_bucket(node, bucket):
    answer = node.request("PUT", f"/{bucket}/locked", {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"}, BODY)
    assert answer.status == 400
    assert error_of(answer) == ("InvalidRequest", "Bucket is missing Object Lock Configuration")


def test_a_browser_form_upload(shared_server, node, bucket):
    s3v4 = s3_client(shared_server.http_url, signature_version="s3v4")
    post = s3v4.generate_presigned_post(bucket, "form-upload", ExpiresIn=600)
    boundary = "----conformance"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in post["fields"].items()]
    body = ("".join(parts) + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="f.txt"\r\nContent-Type: text/plain\r\n\r\n').encode() + BODY + \
        f"\r\n--{boundary}--\r\n".encode()
    answer = node.request("POST", f"/{bucket}", {
        "Content-Type": f"multipart/form-data; boundary={boundary}"}, body, sign=False)
    assert answer.status == 204, answer.body
    assert node.request("GET", f"/{bucket}/form-upload").body == BODY


def test_an_expired_presigned_link_is_access_denied(node, bucket, monkeypatch):
    two_hours_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: two_hours_ago)
    link = AWSRequest(method="GET", url=f"{node.url}/{bucket}/k")
    S3SigV4QueryAuth(ROOT, "s3", REGION, expires=3600).add_auth(link)  # botocore's presigner
    assert two_hours_ago.strftime("X-Amz-Date=%Y%m%dT%H%M%SZ") in link.url
    answer = node.request("GET", link.url[len(node.url):], sign=False)
    assert answer.status == 403
    assert error_of(answer) == ("AccessDenied", "Request has expired")
    doc = xml_of(answer.body)
    assert doc.findtext("X-Amz-Expires") == "3600" and doc.findtext("Expires")


def test_multipart_uploads_and_copies_refuse_what_the_node_cannot_do(node, bucket):
    """The same refusal where a body arrives later (CreateMultipartUpload) or comes from
    another object (CopyObject): nothing is started or written."""
    started = node.request("POST", f"/{bucket}/mp-encrypted?uploads", SSE_C)
    assert started.status == 501 and error_of(started)[0] == "NotImplemented"
    node.request("PUT", f"/{bucket}/plain", {}, BODY)
    copied = node.request("PUT", f"/{bucket}/copied", {
        "x-amz-copy-source": f"/{bucket}/plain", "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"})
    assert copied.status == 400
    assert error_of(copied) == ("InvalidRequest", "Bucket is missing Object Lock Configuration")
    assert absent(node, bucket, "copied")
