"""How S3 answers cross-origin requests from a bucket's CORS rules: which rule matches
(origin and header wildcards, the method), and the Access-Control-* headers it gives; the
rules survive the trip through the bucket record."""

from __future__ import annotations

import pytest

from engine.api.s3.cors import VARY, answer_headers, find_rule, matches, requested_headers
from engine.api.s3.settings_records import cors_config, cors_record
from engine.api.s3.xml.cors import CorsConfiguration, CorsRule, parse_cors

# The first example of AWS's "Configuring cross-origin resource sharing (CORS)" guide.
AWS_EXAMPLE = b"""<CORSConfiguration>
 <CORSRule>
   <AllowedOrigin>http://www.example1.com</AllowedOrigin>
   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>http://www.example2.com</AllowedOrigin>
   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>*</AllowedOrigin>
   <AllowedMethod>GET</AllowedMethod>
 </CORSRule>
</CORSConfiguration>"""


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("*", "https://anything", True),
    ("https://*.example.com", "https://app.example.com", True),
    ("https://*.example.com", "https://example.com", False),
    ("https://*.example.com", "http://app.example.com", False),
    ("http://www.example1.com", "http://www.example1.com", True),
    ("http://www.example1.com", "http://www.example1.com.evil", False),
    ("x-amz-*", "x-amz-meta-a", True),
    ("ab*ba", "aba", False),
])
def test_patterns_hold_one_wildcard(pattern, value, expected):
    assert matches(pattern, value) is expected


def test_the_first_rule_allowing_origin_method_and_headers_wins():
    config = parse_cors(AWS_EXAMPLE)
    put = find_rule(config, "http://www.example2.com", "PUT", ["content-type"])
    assert put is not None and put.rule is config.rules[1] and not put.any_origin
    get = find_rule(config, "http://www.example2.com", "GET")
    assert get is not None and get.rule is config.rules[2] and get.any_origin
    assert find_rule(config, "http://www.example3.com", "PUT") is None
    assert find_rule(config, "http://www.example3.com", "GET", ["x-custom"]) is None


def test_a_preflight_answer_names_the_rule_and_the_headers_asked_for():
    rule = CorsRule(("GET", "PUT"), ("https://*.example.com",), ("x-amz-*", "content-type"),
                    ("ETag",), 600)
    asked = requested_headers("Content-Type, X-Amz-Meta-Name")
    found = find_rule(CorsConfiguration((rule,)), "https://app.example.com", "PUT", asked)
    assert found is not None
    assert answer_headers(found, "https://app.example.com", asked) == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "content-type, x-amz-meta-name",
        "Access-Control-Expose-Headers": "ETag",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Credentials": "true",
        "Vary": VARY,
    }


def test_any_origin_is_answered_with_a_star_and_no_credentials():
    config = CorsConfiguration((CorsRule(("HEAD",), ("*",)),))
    found = find_rule(config, "null", "HEAD")
    assert found is not None
    assert answer_headers(found, "null") == {"Access-Control-Allow-Origin": "*",
                                             "Access-Control-Allow-Methods": "HEAD",
                                             "Vary": VARY}


def test_rules_survive_the_bucket_record():
    config = parse_cors(AWS_EXAMPLE)
    assert cors_config(cors_record(config)) == config
    timed = CorsConfiguration((CorsRule(("GET",), ("*",), max_age_seconds=0, id="r"),))
    assert cors_config(cors_record(timed)) == timed
