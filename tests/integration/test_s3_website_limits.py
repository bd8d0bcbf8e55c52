"""The website endpoint faces anonymous browsers, so it gets the S3 endpoint's bounds
(one HTTP listener, engine/api/s3/listener.py, set by the same --http-* flags): a header
section must arrive within the header deadline, connections past the cap are answered
SlowDown, and what aiohttp's parser refuses is an S3 error, not a traceback. The server
enforces every deadline; the tests only wait for its answer."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
from helpers_s3_http import raw_exchange
from ports import free_port

HEADER_TIMEOUT = 1.0
CAP = 2


@pytest.fixture(scope="module")
def site(module_server_factory) -> str:
    port = free_port()
    module_server_factory("--website-listen", f"127.0.0.1:{port}",
                          "--http-header-timeout", str(HEADER_TIMEOUT),
                          "--http-max-connections", str(CAP))
    return f"http://127.0.0.1:{port}"


def status_and_code(answer: bytes) -> tuple[int, str]:
    code = answer.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()
    return int(answer.split(b" ", 2)[1]), code


def test_a_header_section_that_never_ends_is_cut_at_the_deadline(site):
    started = time.monotonic()
    answer = raw_exchange(site, b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert status_and_code(answer) == (400, "RequestTimeout")
    assert b"x-amz-request-id: " in answer
    assert HEADER_TIMEOUT <= elapsed < HEADER_TIMEOUT + 2.5


def test_a_connection_past_the_cap_is_answered_slow_down(site):
    parts = urlsplit(site)
    held = [socket.create_connection((parts.hostname, parts.port), timeout=10)
            for _ in range(CAP)]
    try:
        for sock in held:  # busy: each has started a request, none is idle
            sock.sendall(b"GET / HTTP/1.1\r\n")
        answer = raw_exchange(site, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_and_code(answer) == (503, "SlowDown")
    finally:
        for sock in held:
            sock.close()


def test_what_the_parser_refuses_is_an_s3_error(site):
    answer = raw_exchange(site, b"GARBAGE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert status_and_code(answer) == (400, "BadRequest")
    assert b"Traceback" not in answer
