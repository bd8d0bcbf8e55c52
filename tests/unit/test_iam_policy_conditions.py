"""Condition operators and policy variables, through parse_policy + evaluate: every
operator, its IfExists form, the missing-key rules, the set qualifiers and variables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.iam.policy import USER_INLINE, RequestContext, evaluate, parse_policy

BOB = "arn:aws:iam::111122223333:user/division/bob"
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def decide(condition: dict, keys: dict | None = None, *, version: str = "2012-10-17",
           resource: str = "*", target: str = "arn:aws:s3:::bucket/key",
           principal: str | None = BOB, now: datetime | None = NOW) -> bool:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    policy = parse_policy(json.dumps({"Version": version, "Statement": [statement]}),
                          USER_INLINE)
    ctx = RequestContext("s3:GetObject", target, principal_arn=principal,
                         account_id="111122223333", keys=keys or {}, now=now)
    return evaluate(ctx, identity=[("policy", policy)]).allowed


def test_string_equals_is_case_sensitive_on_values_and_insensitive_on_keys():
    assert decide({"StringEquals": {"aws:username": "bob"}})
    assert not decide({"StringEquals": {"aws:username": "Bob"}})
    assert decide({"StringEquals": {"AWS:UserName": "bob"}})
    assert decide({"StringEquals": {"s3:x-amz-acl": "private"}}, {"S3:X-Amz-Acl": "private"})


def test_values_of_a_key_are_ored_keys_and_operators_are_anded():
    assert decide({"StringEquals": {"aws:username": ["alice", "bob"]}})
    both = {"StringEquals": {"aws:username": "bob", "s3:x-amz-acl": "private"}}
    assert decide(both, {"s3:x-amz-acl": "private"})
    assert not decide(both, {"s3:x-amz-acl": "public-read"})
    two_ops = {"StringEquals": {"aws:username": "bob"},
               "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert decide(two_ops, {"aws:SourceIp": "10.1.1.1"})
    assert not decide(two_ops, {"aws:SourceIp": "192.0.2.1"})


def test_string_not_equals_and_ignore_case_forms():
    assert decide({"StringNotEquals": {"aws:username": "alice"}})
    assert not decide({"StringNotEquals": {"aws:username": "bob"}})
    assert decide({"StringEqualsIgnoreCase": {"aws:username": "BOB"}})
    assert not decide({"StringNotEqualsIgnoreCase": {"aws:username": "BoB"}})
    assert decide({"StringNotEqualsIgnoreCase": {"aws:username": "alice"}})


def test_string_like_wildcards():
    assert decide({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/bob/docs"})
    assert decide({"StringLike": {"s3:prefix": "home/b?b"}}, {"s3:prefix": "home/bob"})
    assert not decide({"StringLike": {"s3:prefix": "home/b?b"}}, {"s3:prefix": "home/boob"})
    assert not decide({"StringLike": {"s3:prefix": "Home/*"}}, {"s3:prefix": "home/bob"})
    assert decide({"StringNotLike": {"s3:prefix": "private/*"}}, {"s3:prefix": "home/"})
    assert not decide({"StringNotLike": {"s3:prefix": "private/*"}}, {"s3:prefix": "private/x"})


def test_numeric_operators():
    keys = {"s3:max-keys": "10"}
    assert decide({"NumericLessThanEquals": {"s3:max-keys": "10"}}, keys)
    assert not decide({"NumericLessThan": {"s3:max-keys": "10"}}, keys)
    assert decide({"NumericEquals": {"s3:max-keys": "10.0"}}, keys)
    assert decide({"NumericEquals": {"s3:max-keys": 10}}, keys)
    assert decide({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10})
    assert not decide({"NumericNotEquals": {"s3:max-keys": "10"}}, keys)
    assert decide({"NumericNotEquals": {"s3:max-keys": "11"}}, keys)
    assert decide({"NumericGreaterThan": {"s3:max-keys": "9.5"}}, keys)
    assert decide({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, keys)
    assert not decide({"NumericGreaterThan": {"s3:max-keys": "10"}}, keys)
    # a value that is not a number matches nothing
    assert not decide({"NumericLessThan": {"s3:max-keys": "100"}}, {"s3:max-keys": "ten"})
    assert not decide({"NumericLessThan": {"s3:max-keys": "lots"}}, keys)


def test_date_operators_take_iso_8601_or_epoch_seconds():
    # NOW is 2024-06-01T12:00:00Z = 1717243200
    assert decide({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}})
    assert not decide({"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}})
    assert decide({"DateLessThan": {"aws:CurrentTime": "2024-06-01T12:00:01Z"}})
    assert decide({"DateEquals": {"aws:CurrentTime": "2024-06-01T14:00:00+02:00"}})
    assert decide({"DateEquals": {"aws:CurrentTime": "1717243200"}})
    assert decide({"DateLessThanEquals": {"aws:EpochTime": "2024-06-01T12:00:00Z"}})
    assert decide({"DateGreaterThanEquals": {"aws:CurrentTime": 1717243200}})
    assert decide({"DateNotEquals": {"aws:CurrentTime": "2024-06-01"}})
    assert decide({"DateGreaterThan": {"aws:CurrentTime": "2024-06-01"}})
    assert not decide({"DateGreaterThan": {"aws:CurrentTime": "not a date"}})


def test_time_bound_policy_follows_the_clock_passed_in():
    window = {"DateGreaterThan": {"aws:CurrentTime": "2024-06-01T00:00:00Z"},
              "DateLessThan": {"aws:CurrentTime": "2024-06-30T23:59:59Z"}}
    assert decide(window, now=NOW)
    assert not decide(window, now=NOW + timedelta(days=30))
    assert decide(window, now=datetime(2024, 6, 1, 3, 0, tzinfo=timezone(timedelta(hours=2))))
    assert not decide(window, now=None)  # no clock, no aws:CurrentTime


def test_bool_and_binary():
    assert decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"})
    assert decide({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"})
    assert not decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})
    assert not decide({"Bool": {"aws:SecureTransport": "true"}})
    value = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    assert decide({"BinaryEquals": {"aws:Key": value}}, {"aws:Key": value})
    assert not decide({"BinaryEquals": {"aws:Key": value}}, {"aws:Key": "T3RoZXI="})


def test_ip_address_ipv4_and_ipv6():
    ips = {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]}}
    assert decide(ips, {"aws:SourceIp": "192.0.2.17"})
    assert decide(ips, {"aws:SourceIp": "2001:db8:1234:5678::1"})
    assert not decide(ips, {"aws:SourceIp": "2001:db8:1234:5679::1"})
    assert not decide(ips, {"aws:SourceIp": "198.51.100.1"})
    assert not decide(ips, {"aws:SourceIp": "not-an-ip"})
    assert decide({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:SourceIp": "203.0.113.5"})
    assert decide({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
                  {"aws:SourceIp": "198.51.100.1"})
    assert not decide({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
                      {"aws:SourceIp": "192.0.2.1"})


def test_arn_operators_match_each_component_separately():
    topic = "arn:aws:sns:us-east-1:111122223333:topic"
    assert decide({"ArnEquals": {"aws:SourceArn": topic}}, {"aws:SourceArn": topic})
    assert decide({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}},
                  {"aws:SourceArn": topic})
    assert decide({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}},
                  {"aws:SourceArn": topic})
    # the region's * cannot reach over the account: five components never match six
    short = "arn:aws:sns:*:topic"
    assert not decide({"ArnLike": {"aws:SourceArn": short}}, {"aws:SourceArn": topic})
    assert decide({"StringLike": {"aws:SourceArn": short}}, {"aws:SourceArn": topic})
    assert not decide({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
                      {"aws:SourceArn": "not-an-arn"})
    assert decide({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:444455556666:*"}},
                  {"aws:SourceArn": topic})
    assert not decide({"ArnNotEquals": {"aws:SourceArn": topic}}, {"aws:SourceArn": topic})


def test_null_tests_presence():
    assert decide({"Null": {"aws:TokenIssueTime": "true"}})
    assert not decide({"Null": {"aws:TokenIssueTime": "false"}})
    assert decide({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"})
    assert decide({"Null": {"aws:TokenIssueTime": True}})


@pytest.mark.parametrize(("operator", "value"), [
    ("StringEquals", "x"), ("StringEqualsIgnoreCase", "x"), ("StringLike", "*"),
    ("NumericEquals", "1"), ("NumericLessThan", "1"), ("NumericLessThanEquals", "1"),
    ("NumericGreaterThan", "1"), ("NumericGreaterThanEquals", "1"),
    ("DateEquals", "2024-01-01"), ("DateLessThan", "2024-01-01"),
    ("DateLessThanEquals", "2024-01-01"), ("DateGreaterThan", "2024-01-01"),
    ("DateGreaterThanEquals", "2024-01-01"), ("Bool", "true"), ("BinaryEquals", "eA=="),
    ("IpAddress", "10.0.0.0/8"), ("ArnEquals", "arn:aws:s3:::*"), ("ArnLike", "arn:aws:s3:::*"),
])
def test_a_missing_key_fails_positive_operators_unless_if_exists(operator, value):
    assert not decide({operator: {"aws:Missing": value}})
    assert decide({f"{operator}IfExists": {"aws:Missing": value}})


@pytest.mark.parametrize(("operator", "value"), [
    ("StringNotEquals", "x"), ("StringNotEqualsIgnoreCase", "x"), ("StringNotLike", "*"),
    ("NumericNotEquals", "1"), ("DateNotEquals", "2024-01-01"), ("NotIpAddress", "10.0.0.0/8"),
    ("ArnNotEquals", "arn:aws:s3:::*"), ("ArnNotLike", "arn:aws:s3:::*"),
])
def test_a_missing_key_satisfies_negated_operators(operator, value):
    assert decide({operator: {"aws:Missing": value}})
    assert decide({f"{operator}IfExists": {"aws:Missing": value}})


def test_if_exists_still_tests_a_present_key():
    condition = {"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}
    assert decide(condition, {"s3:x-amz-acl": "private"})
    assert not decide(condition, {"s3:x-amz-acl": "public-read"})
    assert not decide({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {"s3:max-keys": "50"})
    assert decide({"ipaddressifexists": {"aws:SourceIp": "10.0.0.0/8"}},
                  {"aws:SourceIp": "10.9.9.9"})


# IAM User Guide, "Condition keys with multiple values": a request may carry several tag keys.
ALLOWED_TAGS = ["environment", "cost-center"]


def test_for_all_values_every_request_value_must_match_and_missing_is_true():
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ALLOWED_TAGS}}
    assert decide(condition, {"aws:TagKeys": ["environment"]})
    assert decide(condition, {"aws:TagKeys": ["environment", "cost-center"]})
    assert not decide(condition, {"aws:TagKeys": ["environment", "dept"]})
    assert decide(condition, {"aws:TagKeys": []})  # nothing fails: the documented pitfall
    assert decide(condition)


def test_for_any_value_one_request_value_must_match_and_missing_is_false():
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": ALLOWED_TAGS}}
    assert decide(condition, {"aws:TagKeys": ["environment", "dept"]})
    assert not decide(condition, {"aws:TagKeys": ["dept"]})
    assert not decide(condition, {"aws:TagKeys": []})
    assert not decide(condition)


def test_set_qualifiers_with_negated_and_like_operators():
    no_secret = {"ForAllValues:StringNotLike": {"aws:TagKeys": "secret*"}}
    assert decide(no_secret, {"aws:TagKeys": ["team", "env"]})
    assert not decide(no_secret, {"aws:TagKeys": ["team", "secret-level"]})
    some_other = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "team"}}
    assert decide(some_other, {"aws:TagKeys": ["team", "env"]})
    assert not decide(some_other, {"aws:TagKeys": ["team"]})
    assert decide({"ForAllValues:StringEqualsIfExists": {"aws:TagKeys": "x"}})


# -- policy variables ----------------------------------------------------------------------


def test_variables_in_condition_values():
    home = {"StringLike": {"s3:prefix": ["${aws:username}/*", "${aws:username}"]}}
    assert decide(home, {"s3:prefix": "bob/photos"})
    assert decide(home, {"s3:prefix": "bob"})
    assert not decide(home, {"s3:prefix": "alice/photos"})
    assert decide({"StringEquals": {"s3:prefix": "${aws:PrincipalAccount}"}},
                  {"s3:prefix": "111122223333"})
    assert decide({"StringEquals": {"s3:prefix": "${S3:Delimiter}"}},
                  {"s3:prefix": "/", "s3:delimiter": "/"})


def test_a_variable_whose_key_is_missing_matches_nothing_unless_it_has_a_default():
    role = "arn:aws:sts::111122223333:assumed-role/Admin/session"  # roles have no username
    condition = {"StringLike": {"s3:prefix": "${aws:username}/*"}}
    assert not decide(condition, {"s3:prefix": "/x"}, principal=role)
    with_default = {"StringLike": {"s3:prefix": "${aws:username, 'shared'}/*"}}
    assert decide(with_default, {"s3:prefix": "shared/x"}, principal=role)
    assert decide(with_default, {"s3:prefix": "bob/x"})


def test_special_variables_stand_for_literal_characters():
    star = {"StringLike": {"s3:prefix": "a${*}b"}}
    assert decide(star, {"s3:prefix": "a*b"})
    assert not decide(star, {"s3:prefix": "axxb"})
    assert decide({"StringEquals": {"s3:prefix": "${$}{x}${?}"}}, {"s3:prefix": "${x}?"})
    # a substituted value is text, never a wildcard
    starry = "arn:aws:iam::111122223333:user/*x"
    assert not decide({"StringLike": {"s3:prefix": "${aws:username}"}},
                      {"s3:prefix": "anything"}, principal=starry)
    assert decide({"StringLike": {"s3:prefix": "${aws:username}"}},
                  {"s3:prefix": "*x"}, principal=starry)


def test_version_2008_does_not_substitute():
    condition = {"StringEquals": {"s3:prefix": "${aws:username}"}}
    assert decide(condition, {"s3:prefix": "bob"})
    assert not decide(condition, {"s3:prefix": "bob"}, version="2008-10-17")
    assert decide(condition, {"s3:prefix": "${aws:username}"}, version="2008-10-17")


def test_a_multivalued_key_cannot_be_a_variable():
    condition = {"StringEquals": {"s3:prefix": "${aws:TagKeys}"}}
    assert decide(condition, {"s3:prefix": "a", "aws:TagKeys": ["a"]})
    assert not decide(condition, {"s3:prefix": "a", "aws:TagKeys": ["a", "b"]})


def test_variables_in_resources():
    own = "arn:aws:s3:::home/${aws:username}/*"
    assert decide({}, resource=own, target="arn:aws:s3:::home/bob/notes.txt")
    assert not decide({}, resource=own, target="arn:aws:s3:::home/alice/notes.txt")
    assert not decide({}, resource=own, target="arn:aws:s3:::home/bob/x",
                      principal="arn:aws:sts::111122223333:assumed-role/Admin/bob")
    defaulted = "arn:aws:s3:::home/${aws:username, 'guest'}/*"
    assert decide({}, resource=defaulted, target="arn:aws:s3:::home/guest/x", principal=None)
    literal = "arn:aws:s3:::home/${aws:username}/*"
    assert decide({}, resource=literal, version="2008-10-17",
                  target="arn:aws:s3:::home/${aws:username}/x")
