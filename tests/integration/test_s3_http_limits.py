"""Slow, abusive and malformed clients of the S3 REST endpoint, over raw sockets against
a real node: headers sent byte by byte are cut at the header deadline, connections past
the cap are answered SlowDown (idle keep-alive ones make room first), what aiohttp's
parser refuses is S3's XML error with S3's code, a body cut short is IncompleteBody, and
keys that look like paths never leave the data directory. The server enforces every
deadline (small ones, set by flags); the tests only wait for its answer."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, raw_exchange, s3_client, send, signed_headers

HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def node(module_server_factory):
    """A node with a 1 s header deadline (and the default connection cap)."""
    return module_server_factory("--http-header-timeout", str(HEADER_TIMEOUT))


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def code(answer: bytes) -> str:
    return answer.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def server_log(server) -> str:
    return (server.data_dir.parent / f"server-{server.port}.log").read_text(errors="replace")


# -- slow clients -------------------------------------------------------------------------


def test_headers_sent_byte_by_byte_are_cut_at_the_header_deadline(node):
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with connect(node.http_url) as sock:
        started = time.monotonic()
        try:
            for byte in request:  # one byte every 20 ms: 4.5 s for the whole request
                sock.sendall(bytes([byte]))
                time.sleep(0.02)
        except OSError:  # the server closed the connection on us
            pass
        answer = read_all(sock)
        elapsed = time.monotonic() - started
    assert status(answer) == 400 and code(answer) == "RequestTimeout", answer
    assert b"x-amz-request-id: " in answer
    assert HEADER_TIMEOUT <= elapsed < HEADER_TIMEOUT + 2.5


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(node):
    with connect(node.http_url) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert HEADER_TIMEOUT <= time.monotonic() - started < HEADER_TIMEOUT + 2.5


def test_keep_alive_requests_are_not_cut_while_idle_between_them(node):
    """The deadline runs from a request's first byte: a connection kept alive longer
    than the header timeout between two requests still serves the second."""
    s3 = s3_client(node.http_url)
    name = bucket_name("keep")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    url = f"{node.http_url}/{name}/k"
    with connect(node.http_url) as sock:
        for second in (False, True):
            if second:
                time.sleep(HEADER_TIMEOUT + 0.5)  # idle between requests: the behaviour
            head = "".join(f"{k}: {v}\r\n" for k, v in
                           signed_headers("GET", url, "UNSIGNED-PAYLOAD").items())
            sock.sendall(f"GET /{name}/k HTTP/1.1\r\n{head}\r\n".encode())
            answer = b""
            while not answer.endswith(b"\r\n\r\nv"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")


def test_over_the_cap_is_slow_down_and_idle_connections_make_room(server_factory):
    server = server_factory("--http-max-connections", "3").start()
    held = [connect(server.http_url) for _ in range(3)]
    try:
        for sock in held:  # busy: each has started a request
            sock.sendall(b"GET / HTTP/1.1\r\n")
        answer = raw_exchange(server.http_url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status(answer) == 503 and code(answer) == "SlowDown", answer
        for sock in held:
            sock.sendall(b"Host: x\r\n\r\n")  # finish: answered (403), then idle
            assert read_until_answered(sock).startswith(b"HTTP/1.1 403")
        answer = raw_exchange(server.http_url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                              half_close=True)  # answered, then closed: no keep-alive wait
        assert status(answer) == 403, answer  # an idle connection made room
        assert sum(read_or_closed(sock) for sock in held) == 1  # exactly one was closed
    finally:
        for sock in held:
            sock.close()


def read_until_answered(sock: socket.socket) -> bytes:
    answer = b""
    while b"</Error>" not in answer:
        answer += sock.recv(65536)
    return answer


def read_or_closed(sock: socket.socket) -> bool:
    """Whether the server closed this (otherwise idle) connection."""
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


# -- what aiohttp's parser refuses, as S3's XML errors -------------------------------------


MALFORMED = {
    "garbage request line": (b"GARBAGE\r\n\r\n", 400, "BadRequest"),
    "invalid method": (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequest"),
    "unknown HTTP version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "BadRequest"),
    "TLS on the HTTP port": (b"\x16\x03\x01\x00\xa5\x01\x00\x00", 400, "BadRequest"),
    "request line over 8 KiB": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                                400, "InvalidURI"),
    "control character in the target": (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                                        "InvalidURI"),
    "header line over 8 KiB": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 +
                               b"\r\n\r\n", 400, "RequestHeaderSectionTooLarge"),
    "header section over 8 KiB": (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(9)) + b"\r\n", 400,
        "RequestHeaderSectionTooLarge"),
    "too many headers": (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X%d:\r\n" % i for i in range(2100)) + b"\r\n", 400,
        "RequestHeaderSectionTooLarge"),
    "NUL in a header": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400,
                        "BadRequest"),
    "space in a header name": (b"GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n", 400,
                               "BadRequest"),
    "no Host in HTTP/1.1": (b"GET / HTTP/1.1\r\n\r\n", 400, "BadRequest"),
    "invalid chunk size": (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           b"\r\nzz\r\nabc\r\n0\r\n\r\n", 400, "BadRequest"),
    "Content-Length with chunked": (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                                    "BadRequest"),
    "Content-Length not a number": (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: abc"
                                    b"\r\n\r\n", 400, "BadRequest"),
    "two Content-Lengths": (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                            b"Content-Length: 2\r\n\r\nab", 400, "BadRequest"),
    "unknown transfer coding": (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip"
                                b"\r\n\r\n", 400, "BadRequest"),
}


@pytest.mark.parametrize("request_bytes,expected_status,expected_code",
                         MALFORMED.values(), ids=MALFORMED.keys())
def test_parser_errors_are_s3_xml_errors(node, request_bytes, expected_status,
                                         expected_code):
    # Half-closed after the request: a request that parses (the 8 KiB section is app.py's
    # check) is answered and then closed, not kept alive until the client gives up.
    answer = raw_exchange(node.http_url, request_bytes, half_close=True)
    assert status(answer) == expected_status, answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/xml" in head and b"x-amz-request-id: " in head
    assert body.startswith(b"<?xml") and code(body) == expected_code, body
    assert b"aiohttp" not in answer and b"aaaa" not in body  # nothing internal or echoed


def test_parser_errors_leave_no_traceback_and_the_node_serves_on(node):
    for request_bytes, _, _ in MALFORMED.values():
        raw_exchange(node.http_url, request_bytes, half_close=True)
    assert "Traceback" not in server_log(node)
    s3 = s3_client(node.http_url)
    s3.list_buckets()


# -- bodies that do not match their framing ------------------------------------------------


def test_a_body_cut_short_is_incomplete_body_and_stores_nothing(node):
    s3 = s3_client(node.http_url)
    name = bucket_name("short")
    s3.create_bucket(Bucket=name)
    url = f"{node.http_url}/{name}/short"
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(
        "PUT", url, "UNSIGNED-PAYLOAD", {"Content-Length": "100000"}).items())
    answer = raw_exchange(node.http_url, f"PUT /{name}/short HTTP/1.1\r\n{head}\r\n".encode()
                          + b"x" * 1000, half_close=True)
    assert status(answer) == 400 and code(answer) == "IncompleteBody", answer
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=name, Key="short")
    assert caught.value.response["Error"]["Code"] == "404"


def test_invalid_chunk_framing_mid_body_stores_nothing(node):
    s3 = s3_client(node.http_url)
    name = bucket_name("chunks")
    s3.create_bucket(Bucket=name)
    url = f"{node.http_url}/{name}/chunked"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD",
                             {"Transfer-Encoding": "chunked"})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with connect(node.http_url) as sock:
        sock.sendall(f"PUT /{name}/chunked HTTP/1.1\r\n{head}\r\n".encode() + b"5\r\nhello\r\n")
        time.sleep(0.2)  # the handler is reading the body when the bad chunk comes
        sock.sendall(b"zz\r\nabc\r\n0\r\n\r\n")
        answer = read_all(sock)
    assert status(answer) == 400 and code(answer) == "IncompleteBody", answer
    with pytest.raises(ClientError):
        s3.head_object(Bucket=name, Key="chunked")


# -- the other families of bad input, through boto3 and signed requests -------------------


def test_bad_ranges_dates_metadata_and_subresources_get_s3s_answers(node):
    s3 = s3_client(node.http_url)
    name = bucket_name("families")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"0123456789")
    url = f"{node.http_url}/{name}/k"
    signed = signed_headers("GET", url, "UNSIGNED-PAYLOAD")
    cases = [  # (extra headers, status, body or error code)
        ({"Range": "bytes=9-2"}, 200, b"0123456789"),  # malformed: S3 ignores it
        ({"Range": "bytes=100-"}, 416, "InvalidRange"),
        ({"If-Modified-Since": "not a date"}, 200, b"0123456789"),  # S3 ignores it too
        ({"X-Amz-Date": "yesterday"}, 403, "AccessDenied"),
    ]
    for extra, expected_status, expected in cases:
        answer = send(url, "GET", {**signed, **extra}.items())
        assert answer.status == expected_status, (extra, answer.body)
        if isinstance(expected, bytes):
            assert answer.body == expected
        else:
            assert code(answer.body) == expected
    for query, expected_status, expected in [("torrent", 501, "NotImplemented"),
                                             ("no-such-parameter=1", 200, None)]:
        answer = send(f"{url}?{query}", "GET",
                      signed_headers("GET", f"{url}?{query}", "UNSIGNED-PAYLOAD").items())
        assert answer.status == expected_status, (query, answer.body)
        if expected is not None:
            assert code(answer.body) == expected
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=name, Key="meta", Body=b"x", Metadata={"big": "m" * 2100})
    assert caught.value.response["Error"]["Code"] == "MetadataTooLarge"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=name, Key="k" * 1025, Body=b"x")
    assert caught.value.response["Error"]["Code"] == "KeyTooLongError"


# -- keys never leave the data directory ---------------------------------------------------


PATH_LIKE_KEYS = ["../../escape-dotdot", "../../../../tmp/escape-abs", "a/../../escape-mid",
                  "..%2F..%2Fescape-pct", "%2e%2e%2fescape-pct-dots", "/leading/escape",
                  "ctl\x01\x1f\x7fescape", "tab\tnew\nline-escape", "..\\..\\escape-bs",
                  ".", ".."]
RAW_PATHS = ["/{b}/..%2F..%2Fraw-escape-1", "/{b}/%2E%2E/%2E%2E/raw-escape-2",
             "/{b}/../../raw-escape-3", "/{b}/a/%2e%2e/%2e%2e/%2e%2e/raw-escape-4"]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_path_like_keys_stay_inside_the_data_directory(node):
    s3 = s3_client(node.http_url)
    name = bucket_name("paths")
    s3.create_bucket(Bucket=name)
    scratch = node.data_dir.parent
    outside_before = files_under(scratch) - files_under(node.data_dir)
    for key in PATH_LIKE_KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode() * 3)
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == key.encode() * 3
    stored_raw = []
    for template in RAW_PATHS:
        path = template.format(b=name)
        url = f"{node.http_url}{path}"
        answer = send(url, "PUT", signed_headers("PUT", url, "UNSIGNED-PAYLOAD").items(),
                      b"raw", path=path)
        assert answer.status in (200, 400, 403), (path, answer.body)
        if answer.status == 200:
            stored_raw.append(path)
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name)
              for o in page.get("Contents", [])}
    assert set(PATH_LIKE_KEYS) <= listed
    assert len(listed) == len(PATH_LIKE_KEYS) + len(stored_raw)
    outside_after = files_under(scratch) - files_under(node.data_dir)
    assert {p for p in outside_after - outside_before if not p.name.startswith("server-")} \
        == set()
    assert not list(Path("/tmp").glob("escape*")) and not list(Path("/tmp").glob("raw-escape*"))
    for path in files_under(node.data_dir):
        assert "escape" not in str(path.relative_to(node.data_dir)), path
