"""The shared S3 XML machinery: hardened parsing, S3's escaping, timestamps, url encoding
and query-string numbers."""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus

import pytest
from botocore.compat import unquote_str
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from engine.api.s3.xml import base
from engine.errors import EngineError

MALFORMED = ("The XML you provided was not well-formed or did not validate against our "
             "published schema")


def refused(body: bytes, root: str = "Tagging", limit: int = base.SMALL_BODY,
            **kwargs: str) -> EngineError:
    with pytest.raises(EngineError) as caught:
        base.parse(body, root, limit, **kwargs)
    return caught.value


@pytest.mark.parametrize("body", [
    b"",
    b"<Tagging>",  # not well-formed
    b"<Tagging></Tagging><Tagging></Tagging>",  # two roots
    b"not xml at all",
    b"<Other xmlns='http://s3.amazonaws.com/doc/2006-03-01/'/>",  # another root
    b"<Tagging xmlns='urn:someone-else'/>",  # another namespace
    # A DTD, an entity bomb and an external entity are refused before anything expands.
    b"<!DOCTYPE Tagging [<!ELEMENT Tagging ANY>]><Tagging/>",
    b'<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b"<Tagging>&b;</Tagging>",
    b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><Tagging>&x;</Tagging>',
], ids=["empty", "unclosed", "two-roots", "text", "wrong-root", "wrong-namespace", "dtd",
        "entity-bomb", "external-entity"])
def test_bad_documents_are_malformed_xml_with_s3s_message(body: bytes) -> None:
    error = refused(body)
    assert (error.code, error.message, error.http_status) == ("MalformedXML", MALFORMED, 400)


def test_a_document_over_its_bound_is_refused_unread() -> None:
    body = b"<Tagging>" + b" " * 100 + b"</Tagging>"
    assert refused(body, limit=len(body) - 1).code == "MalformedXML"
    assert base.parse(body, "Tagging", len(body)).name == "Tagging"


def test_acl_documents_fail_with_malformed_acl_error() -> None:
    assert refused(b"<nope", "AccessControlPolicy", code="MalformedACLError").code == \
        "MalformedACLError"


def test_namespace_is_optional_and_children_match_by_local_name() -> None:
    for body in (b"<Tagging><TagSet/></Tagging>",
                 b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>',
                 b'<s3:Tagging xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<s3:TagSet/></s3:Tagging>"):
        assert base.parse(body, "Tagging", 1000).child("TagSet") is not None


def test_text_is_kept_exactly_and_comments_do_not_split_it() -> None:
    doc = base.parse(b"<K><Key>  a <!-- c --> b\t</Key><N> 42 </N><B> TRUE </B></K>", "K", 1000)
    assert doc.string("Key") == "  a  b\t"
    assert doc.integer("N") == 42
    assert doc.boolean("B") is True
    assert doc.string("Missing") is None


@pytest.mark.parametrize("body", [b"<K><N>4.2</N></K>", b"<K><N>x</N></K>", b"<K><N></N></K>",
                                  b"<K><B>yes</B></K>", b"<K><N>1</N><N>2</N></K>"])
def test_values_that_are_not_what_the_schema_says_are_malformed(body: bytes) -> None:
    doc = base.parse(body, "K", 1000)
    with pytest.raises(EngineError) as caught:
        doc.integer("N") if b"<N>" in body else doc.boolean("B")
    assert caught.value.code == "MalformedXML"


def test_render_escapes_as_s3_does() -> None:
    root = base.root("R")
    base.add(root, "ETag", '"abc"')
    base.add(root, "Key", "a&b<c>\r\n\x01")
    base.add(root, "Empty")
    base.add_if(root, "Skipped", "")
    base.add(root, "Flag", False)
    assert base.render(root) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ETag>&quot;abc&quot;</ETag>'
        b"<Key>a&amp;b&lt;c&gt;&#13;\n&#1;</Key><Empty></Empty><Flag>false</Flag></R>")


def test_timestamps_are_millisecond_utc() -> None:
    ts = Timestamp(seconds=1255369830, nanos=123_999_999)
    assert base.iso(ts) == "2009-10-12T17:50:30.123Z"
    assert base.iso(base.parse_iso("2009-10-12T17:50:30.000Z")) == "2009-10-12T17:50:30.000Z"
    assert base.iso(base.parse_iso("2009-10-12T19:50:30+02:00")) == "2009-10-12T17:50:30.000Z"
    with pytest.raises(EngineError):
        base.parse_iso("yesterday")


@pytest.mark.parametrize(("key", "encoded"), [
    # What S3 answers under encoding-type=url (Java's URLEncoder with "/" kept).
    ("a b.txt", "a+b.txt"),
    ("a+b.txt", "a%2Bb.txt"),
    ("100%.csv", "100%25.csv"),
    ("한글/x.txt", "%ED%95%9C%EA%B8%80/x.txt"),
    ("run books/", "run+books/"),
    ("~!'()*-_.", "%7E%21%27%28%29*-_."),
    ("line\nfeed\x01", "line%0Afeed%01"),
])
def test_url_encoding_matches_s3(key: str, encoded: str) -> None:
    assert base.url_encode(key) == encoded


@given(st.text())
def test_url_encoding_round_trips_through_what_clients_decode_with(key: str) -> None:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates are not valid S3 keys
    encoded = base.url_encode(key)
    assert unquote_str(encoded) == key  # botocore's decoder
    assert unquote_plus(encoded) == key
    assert unquote(encoded.replace("+", "%20")) == key
    assert encoded.isascii() and "&" not in encoded and "<" not in encoded


def test_encoding_type_is_url_in_any_case_and_echoed() -> None:
    assert base.encoding_type({}) == ""
    assert base.encoding_type({"encoding-type": "URL"}) == "URL"
    with pytest.raises(EngineError) as caught:
        base.encoding_type({"encoding-type": "base64"})
    e = caught.value
    assert (e.code, e.message, e.details) == (
        "InvalidArgument", "Invalid Encoding Method specified in Request",
        {"ArgumentName": "encoding-type", "ArgumentValue": "base64"})


@pytest.mark.parametrize(("raw", "value"), [
    (None, None), ("", None), ("5", 5), ("05", 5), ("-0", 0), ("2147483647", 2147483647),
    ("0" * 5000 + "7", 7),
])
def test_query_integers_s3_serves(raw: str | None, value: int | None) -> None:
    query = {} if raw is None else {"max-keys": raw}
    assert base.query_int(query, "max-keys") == value


@pytest.mark.parametrize("raw", ["abc", " 5", "+5", "5.0", "2147483648", "-2147483649",
                                 "9" * 5000])
def test_query_integers_that_are_not_int32_name_the_parameter(raw: str) -> None:
    with pytest.raises(EngineError) as caught:
        base.query_int({"max-keys": raw}, "max-keys", range_name="maxKeys")
    e = caught.value
    assert (e.code, e.message) == ("InvalidArgument",
                                   "Provided max-keys not an integer or within integer range")
    assert e.details == {"ArgumentName": "max-keys", "ArgumentValue": raw}


def test_negative_query_integers_are_out_of_range_with_s3s_spelling() -> None:
    with pytest.raises(EngineError) as caught:
        base.query_int({"max-keys": "-01"}, "max-keys", range_name="maxKeys")
    e = caught.value
    assert e.message == "Argument maxKeys must be an integer between 0 and 2147483647"
    assert e.details == {"ArgumentName": "max-keys", "ArgumentValue": "-1"}


def test_huge_numbers_in_documents_are_malformed_not_a_crash() -> None:
    doc = base.parse(b"<K><N>" + b"9" * 5000 + b"</N><Z>" + b"0" * 5000 + b"3</Z></K>", "K",
                     20000)
    with pytest.raises(EngineError) as caught:
        doc.integer("N")
    assert caught.value.code == "MalformedXML"
    assert doc.integer("Z") == 3
