"""Conditional reads beyond the basics: weak ETags and ETag lists (RFC 9110 13.1.1-2:
If-Match compares strongly, If-None-Match weakly), and the details each failure hands
the client (S3's <Condition>, a 304's ETag and Last-Modified, InvalidRange's
<RangeRequested> and <ActualObjectSize>)."""

from __future__ import annotations

import pytest
from botocore.parsers import RestXMLParser

from engine.api.s3.errors import error_response
from engine.errors import EngineError
from engine.objects.conditions import NS, Conditions, check, etag_matches
from engine.objects.ranges import parse_range

ETAG = "5eb63bbbe01eeed093cb22bb8f5acdc3"
T = 1_000 * NS
MTIME = T + 123_456


def failure(conds: Conditions, *, copy_source: bool = False) -> EngineError:
    with pytest.raises(EngineError) as info:
        check(conds, ETAG, MTIME, copy_source=copy_source)
    return info.value


@pytest.mark.parametrize(("header", "strong", "weak"), [
    (f'"{ETAG}"', True, True),
    (ETAG, True, True),  # unquoted, as some clients send it: S3 accepts it
    (f'W/"{ETAG}"', False, True),  # a weak tag never matches strongly
    (f'"0123", "{ETAG}"', True, True),  # a list: any member
    (f'"0123",W/"{ETAG}"', False, True),
    (f'W/"{ETAG}", "{ETAG}"', True, True),
    (f'  "{ETAG}"  ,"0123"', True, True),
    ('"0123", "4567"', False, False),
    ('W/"0123"', False, False),
    ("*", True, True),
    ('"0123", *', True, True),
    (f'"{ETAG[:-1]}"', False, False),  # a prefix is not the ETag
    (f'"{ETAG}x"', False, False),
    ("", False, False),
])
def test_strong_and_weak_comparison(header: str, strong: bool, weak: bool) -> None:
    assert etag_matches(header, ETAG, weak=False) is strong
    assert etag_matches(header, ETAG, weak=True) is weak


def test_if_match_with_a_weak_etag_fails_naming_the_condition() -> None:
    err = failure(Conditions(if_match=f'W/"{ETAG}"'))
    assert (err.code, err.http_status) == ("PreconditionFailed", 412)
    assert err.details == {"Condition": "If-Match"}
    check(Conditions(if_match=f'W/"{ETAG}", "{ETAG}"'), ETAG, MTIME)


def test_if_none_match_with_a_weak_etag_is_not_modified() -> None:
    for header in (f'W/"{ETAG}"', f'"0123", W/"{ETAG}"', f'"0123",{ETAG}'):
        err = failure(Conditions(if_none_match=header))
        assert (err.code, err.http_status) == ("NotModified", 304)
        # a 304 still names the version it stands for (RFC 9110 15.4.5)
        assert err.details == {"Condition": "If-None-Match", "etag": ETAG,
                               "mtime_ns": str(MTIME)}
    check(Conditions(if_none_match='"0123", W/"4567"'), ETAG, MTIME)


@pytest.mark.parametrize(("conds", "code", "details"), [
    (Conditions(if_match='"0123"'), "PreconditionFailed", {"Condition": "If-Match"}),
    (Conditions(if_unmodified_since_ns=T - NS), "PreconditionFailed",
     {"Condition": "If-Unmodified-Since"}),
    (Conditions(if_none_match=f'"{ETAG}"'), "NotModified",
     {"Condition": "If-None-Match", "etag": ETAG, "mtime_ns": str(MTIME)}),
    (Conditions(if_modified_since_ns=T), "NotModified",
     {"Condition": "If-Modified-Since", "etag": ETAG, "mtime_ns": str(MTIME)}),
    # If-Match passing makes If-Unmodified-Since irrelevant, not If-None-Match
    (Conditions(if_match=ETAG, if_unmodified_since_ns=T - NS, if_none_match="*"),
     "NotModified", {"Condition": "If-None-Match", "etag": ETAG, "mtime_ns": str(MTIME)}),
])
def test_each_failure_names_its_condition(conds: Conditions, code: str,
                                          details: dict[str, str]) -> None:
    err = failure(conds)
    assert (err.code, err.details) == (code, details)


@pytest.mark.parametrize(("conds", "condition"), [
    (Conditions(if_match='"0123"'), "If-Match"),
    (Conditions(if_match=f'W/"{ETAG}"'), "If-Match"),
    (Conditions(if_unmodified_since_ns=T - NS), "If-Unmodified-Since"),
    (Conditions(if_none_match=f'W/"{ETAG}"'), "If-None-Match"),
    (Conditions(if_modified_since_ns=T), "If-Modified-Since"),
])
def test_copy_source_failures_are_412_without_a_version(conds: Conditions,
                                                        condition: str) -> None:
    err = failure(conds, copy_source=True)
    assert (err.code, err.http_status) == ("PreconditionFailed", 412)
    assert err.details == {"Condition": condition}


def test_dates_compare_at_one_second_resolution() -> None:
    check(Conditions(if_unmodified_since_ns=T), ETAG, T + NS - 1)
    assert failure(Conditions(if_unmodified_since_ns=T - 1)).details["Condition"] == \
        "If-Unmodified-Since"
    check(Conditions(if_modified_since_ns=T - 1), ETAG, MTIME)  # 999 s < 1000 s: modified
    assert failure(Conditions(if_modified_since_ns=T + NS - 1)).code == "NotModified"


@pytest.mark.parametrize(("header", "size"), [
    ("bytes=1024-", 1024), ("bytes=2000-3000", 1024), ("bytes=-0", 1024), ("bytes=0-", 0),
])
def test_invalid_range_names_the_range_and_the_size(header: str, size: int) -> None:
    with pytest.raises(EngineError) as info:
        parse_range(header, size)
    err = info.value
    assert (err.code, err.http_status) == ("InvalidRange", 416)
    assert err.details == {"RangeRequested": header, "ActualObjectSize": str(size)}


# -- what a client reads: the S3 error answer, parsed by botocore --------------------------


def answer(err: EngineError) -> tuple[int, dict[str, str], dict[str, str]]:
    response = error_response(err, head=False, resource="/b/k", request_id="R", host="H")
    raw = {"status_code": response.status, "headers": dict(response.headers),
           "body": response.body or b""}
    parsed = RestXMLParser().parse(raw, None) if raw["body"] else {"Error": {}}
    return response.status, dict(response.headers), parsed["Error"]


def test_a_client_reads_the_failed_condition() -> None:
    status, _, error = answer(failure(Conditions(if_match=f'W/"{ETAG}"')))
    assert status == 412 and error["Code"] == "PreconditionFailed"
    assert error["Condition"] == "If-Match"


def test_a_client_reads_the_range_and_the_size() -> None:
    with pytest.raises(EngineError) as info:
        parse_range("bytes=2000-", 1024)
    status, headers, error = answer(info.value)
    assert status == 416 and error["Code"] == "InvalidRange"
    assert (error["RangeRequested"], error["ActualObjectSize"]) == ("bytes=2000-", "1024")
    assert headers["Content-Range"] == "bytes */1024"


def test_a_client_reads_a_304s_version() -> None:
    status, headers, _ = answer(failure(Conditions(if_none_match=f'W/"{ETAG}"')))
    assert status == 304
    assert headers["ETag"] == f'"{ETAG}"'
    assert headers["Last-Modified"] == "Thu, 01 Jan 1970 00:16:40 GMT"
