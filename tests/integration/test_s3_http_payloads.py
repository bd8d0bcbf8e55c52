"""Every way a client sends a body to the S3 REST endpoint, each checked as it streams:
a signed SHA-256, UNSIGNED-PAYLOAD, aws-chunked with chunk signatures (with and without
a signed trailer), boto3's unsigned trailer form over TLS, checksums and Content-MD5,
bodies shorter than declared, slow bodies, and Expect: 100-continue. A body that fails
a check is never stored."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from botocore.exceptions import ClientError
from health import wait_healthy
from helpers_s3_http import (
    aws_chunked,
    bucket_name,
    raw_exchange,
    s3_client,
    send,
    signed_headers,
)
from ports import free_port

from engine.cluster.cert_authority import create_ca, issue, write_pem

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
BODY = bytes(range(256)) * 300  # 76800 bytes: several chunks of 32 KiB


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def absent(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        return err.response["Error"]["Code"] == "404"
    return False


def code(body: bytes) -> str:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def test_signed_payload_hash(s3, shared_server, bucket):
    signing = s3_client(shared_server.http_url, s3={"payload_signing_enabled": True})
    signing.put_object(Bucket=bucket, Key="signed", Body=BODY)
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == BODY
    url = f"{shared_server.http_url}/{bucket}/lied"
    headers = signed_headers("PUT", url, hashlib.sha256(b"something else").hexdigest())
    answer = send(url, "PUT", list(headers.items()), BODY)
    assert answer.status == 400 and code(answer.body) == "XAmzContentSHA256Mismatch"
    assert absent(s3, bucket, "lied")


def test_default_boto3_over_http_sends_a_crc32_header(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="default", Body=BODY)
    assert put["ChecksumCRC32"] == crc32_b64(BODY)
    assert s3.get_object(Bucket=bucket, Key="default")["Body"].read() == BODY


def test_unsigned_payload(s3, shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/unsigned"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD")
    assert send(url, "PUT", list(headers.items()), BODY).status == 200
    assert s3.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == BODY


def _chunked_put(url: str, mode: str, chunks: list[bytes], extra: dict[str, str] | None = None,
                 trailers: list[tuple[str, str]] | None = None) -> tuple[dict[str, str], bytes]:
    size = sum(len(c) for c in chunks)
    # the encoded length does not depend on the signatures' values: sign, then frame
    headers = signed_headers("PUT", url, mode, {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(size),
        **(extra or {})})
    body = aws_chunked(chunks, headers, trailers=trailers)
    return headers, body


def test_signed_chunks(s3, shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/chunked"
    chunks = [BODY[:65536], BODY[65536:]]
    headers, body = _chunked_put(url, STREAMING, chunks)
    answer = send(url, "PUT", list(headers.items()), body)
    assert answer.status == 200, answer.body
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == BODY
    assert "ContentEncoding" not in got  # aws-chunked was the transfer, not the content


def test_a_tampered_chunk_is_refused_and_nothing_stored(s3, shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/tampered"
    headers, body = _chunked_put(url, STREAMING, [BODY[:65536], BODY[65536:]])
    index = body.index(b"\r\n") + 2 + 100
    bad = body[:index] + bytes([body[index] ^ 1]) + body[index + 1:]
    answer = send(url, "PUT", list(headers.items()), bad)
    assert answer.status == 403 and code(answer.body) == "SignatureDoesNotMatch"
    assert absent(s3, bucket, "tampered")


def test_signed_chunks_with_a_signed_trailer(s3, shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/trailer"
    extra = {"x-amz-trailer": "x-amz-checksum-crc32"}
    chunks = [BODY[:40000], BODY[40000:]]
    headers, body = _chunked_put(url, STREAMING_TRAILER, chunks, extra,
                                 trailers=[("x-amz-checksum-crc32", crc32_b64(BODY))])
    answer = send(url, "PUT", list(headers.items()), body)
    assert answer.status == 200, answer.body
    assert answer.headers["x-amz-checksum-crc32"] == crc32_b64(BODY)
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == BODY
    url = f"{shared_server.http_url}/{bucket}/bad-trailer"
    headers, body = _chunked_put(url, STREAMING_TRAILER, chunks, extra,
                                 trailers=[("x-amz-checksum-crc32", crc32_b64(b"other"))])
    answer = send(url, "PUT", list(headers.items()), body)
    assert answer.status == 400 and code(answer.body) == "BadDigest"
    assert absent(s3, bucket, "bad-trailer")


def test_checksum_headers_and_content_md5_are_verified(s3, bucket):
    ok = s3.put_object(Bucket=bucket, Key="sha", Body=BODY,
                       ChecksumSHA256=b64(hashlib.sha256(BODY).digest()))
    assert ok["ChecksumSHA256"] == b64(hashlib.sha256(BODY).digest())
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad-sha", Body=BODY,
                      ChecksumSHA256=b64(hashlib.sha256(b"x").digest()))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    assert absent(s3, bucket, "bad-sha")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad-md5", Body=BODY,
                      ContentMD5=b64(hashlib.md5(b"x").digest()))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    assert absent(s3, bucket, "bad-md5")


def test_a_body_shorter_than_its_content_length_stores_nothing(s3, shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/short"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "100000"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"PUT /{bucket}/short HTTP/1.1\r\n{head}\r\n".encode() + BODY[:1000]
    raw_exchange(shared_server.http_url, request, half_close=True)
    assert absent(s3, bucket, "short")


def test_a_stalled_body_times_out(server_factory):
    server = server_factory("--stream-idle-timeout", "0.5").start()
    s3 = s3_client(server.http_url)
    name = bucket_name("slow")
    s3.create_bucket(Bucket=name)
    url = f"{server.http_url}/{name}/slow"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "100000"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    answer = raw_exchange(server.http_url, f"PUT /{name}/slow HTTP/1.1\r\n{head}\r\n".encode()
                          + BODY[:1000])
    assert answer.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in answer
    assert absent(s3, name, "slow")


def test_expect_100_continue_only_once_authorized(shared_server, s3, bucket):
    url = f"{shared_server.http_url}/{bucket}/expect"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD",
                             {"Content-Length": str(len(BODY)), "Expect": "100-continue"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    parts = urlsplit(shared_server.http_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(f"PUT /{bucket}/expect HTTP/1.1\r\n{head}\r\n".encode())
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(BODY)
        final = b""
        while b"\r\n\r\n" not in final:
            final += sock.recv(4096)
        assert final.startswith(b"HTTP/1.1 200")
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == BODY
    stranger = {**headers, "Authorization": headers["Authorization"][:-4] + "0000"}
    head = "".join(f"{k}: {v}\r\n" for k, v in stranger.items())
    answer = raw_exchange(shared_server.http_url,
                          f"PUT /{bucket}/refused HTTP/1.1\r\n{head}\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403") and b"100 Continue" not in answer
    assert absent(s3, bucket, "refused")


# -- over TLS: boto3's default trailer form ---------------------------------------------


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A node serving HTTPS with a certificate for 127.0.0.1; (its URL, the CA file)."""
    root = tmp_path_factory.mktemp("tls")
    ca = create_ca("test CA")
    write_pem(ca, root / "ca.pem", root / "ca-key.pem")
    write_pem(issue(ca, "node", ["127.0.0.1"]), root / "node.pem", root / "node-key.pem")
    port, http_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "engine", "serve", "--data", str(root / "data"), "--listen",
           f"127.0.0.1:{port}", "--http-listen", f"127.0.0.1:{http_port}", "--tls-cert",
           str(root / "node.pem"), "--tls-key", str(root / "node-key.pem")]
    with open(root / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_healthy(f"127.0.0.1:{port}", 30, proc,
                     credentials=grpc.ssl_channel_credentials(ca.cert))
        yield f"https://127.0.0.1:{http_port}", root / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(15)


def test_boto3_default_over_tls_sends_the_unsigned_trailer(tls_node):
    url, ca = tls_node
    s3 = s3_client(url, verify=str(ca), request_checksum_calculation="when_supported")
    seen: dict[str, str] = {}
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **_: seen.update(
                                (k.lower(), v.decode() if isinstance(v, bytes) else v)
                                for k, v in request.headers.items()))
    name = bucket_name("tls")
    s3.create_bucket(Bucket=name)
    put = s3.put_object(Bucket=name, Key="k", Body=BODY)
    assert seen["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert "content-length" not in seen and seen["transfer-encoding"] == "chunked"
    assert put["ChecksumCRC32"] == crc32_b64(BODY)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == BODY


def test_sigterm_with_an_upload_in_flight_stores_nothing(server_factory):
    """The node stops its HTTP listener with the gRPC server, before storage closes: a
    cut upload leaves nothing behind, and the node exits cleanly."""
    import signal
    import time

    server = server_factory("--shutdown-grace", "1").start()  # the cut comes after 1 s
    s3 = s3_client(server.http_url)
    name = bucket_name("term")
    s3.create_bucket(Bucket=name)
    url = f"{server.http_url}/{name}/cut"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "10000000"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    parts = urlsplit(server.http_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"PUT /{name}/cut HTTP/1.1\r\n{head}\r\n".encode() + BODY * 20)
        started = time.monotonic()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        assert time.monotonic() - started < 15
    server.start()
    assert absent(s3, name, "cut")
