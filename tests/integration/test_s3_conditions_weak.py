"""Weak ETags and ETag lists in conditional GETs and CopyObject, on the wire (RFC 9110
13.1.1-2: If-Match compares strongly, If-None-Match weakly; S3's ETags are strong)."""

from __future__ import annotations

import pytest
from helpers_s3_conformance import Node, error_of, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(shared_server) -> str:
    s3 = s3_client(shared_server.http_url)
    name = bucket_name("weak")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"hello world")
    return name


ETAG = '"5eb63bbbe01eeed093cb22bb8f5acdc3"'  # MD5 of "hello world"


def test_if_match_with_a_weak_etag_is_412(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"If-Match": f"W/{ETAG}"})
    assert answer.status == 412
    assert error_of(answer)[0] == "PreconditionFailed"
    assert xml_of(answer.body).findtext("Condition") == "If-Match"
    listed = node.request("GET", f"/{bucket}/k", {"If-Match": f'W/{ETAG}, "0123", {ETAG}'})
    assert listed.status == 200 and listed.body == b"hello world"


def test_if_none_match_with_a_weak_etag_in_a_list_is_304(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"If-None-Match": f'"0123", W/{ETAG}'})
    assert answer.status == 304 and not answer.body
    assert {k.lower(): v for k, v in answer.headers.items()}["etag"] == ETAG
    other = node.request("GET", f"/{bucket}/k", {"If-None-Match": '"0123", W/"4567"'})
    assert other.status == 200


def test_copy_source_if_match_with_a_weak_etag_is_412(node, bucket):
    answer = node.request("PUT", f"/{bucket}/copy", {
        "x-amz-copy-source": f"/{bucket}/k",
        "x-amz-copy-source-if-match": f"W/{ETAG}",
    })
    assert answer.status == 412
    assert xml_of(answer.body).findtext("Condition") == "x-amz-copy-source-If-Match"
