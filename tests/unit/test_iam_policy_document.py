"""Parsing and validating policy documents: what IAM, S3 and SQS store and what they refuse,
with the service's error code and wording, and the size limits at the limit and one past."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.errors import EngineError
from engine.iam import actions
from engine.iam.policy import (
    BUCKET,
    GROUP_INLINE,
    MANAGED,
    QUEUE,
    ROLE_INLINE,
    SESSION,
    TRUST,
    USER_INLINE,
    PolicyKind,
    parse_policy,
)

BUCKET_ARN = "arn:aws:s3:::photos"
ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
PUBLIC_READ = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
               "Resource": f"{BUCKET_ARN}/*"}
ASSUME = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
          "Action": "sts:AssumeRole"}


def doc(*statements: dict, version: str | None = "2012-10-17", **top) -> str:
    body: dict = {} if version is None else {"Version": version}
    body.update(top)
    body["Statement"] = list(statements)
    return json.dumps(body, indent=2)


def refused(text: str, kind: PolicyKind = USER_INLINE, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        parse_policy(text, kind, **kw)
    return info.value


def message(text: str, kind: PolicyKind = USER_INLINE, **kw) -> str:
    err = refused(text, kind, **kw)
    assert err.code == kind.malformed_code
    return err.message


def with_(base: dict, **changes) -> dict:
    out = {k: v for k, v in base.items() if k not in changes or changes[k] is not None}
    out.update({k: v for k, v in changes.items() if v is not None})
    return out


def without(base: dict, *names: str) -> dict:
    return {k: v for k, v in base.items() if k not in names}


# -- what is accepted -------------------------------------------------------------------


def test_a_valid_identity_policy_compiles_keeping_order_sids_and_version():
    text = doc(with_(ALLOW_GET, Sid="First"), with_(ALLOW_GET, Effect="Deny", Sid="Second"),
               Id="MyPolicy")
    policy = parse_policy(text, USER_INLINE)
    assert policy.version == "2012-10-17" and policy.id == "MyPolicy"
    assert [(s.index, s.sid, s.allow) for s in policy.statements] == [
        (0, "First", True), (1, "Second", False)]


def test_statement_may_be_a_single_object_and_version_defaults_to_2008():
    text = json.dumps({"Statement": ALLOW_GET})
    policy = parse_policy(text, USER_INLINE)
    assert policy.version == "2008-10-17"
    assert len(policy.statements) == 1


def test_both_policy_language_versions_are_accepted():
    for version in ("2012-10-17", "2008-10-17"):
        assert parse_policy(doc(ALLOW_GET, version=version), USER_INLINE).version == version


def test_action_names_are_case_insensitive():
    text = doc(with_(ALLOW_GET, Action=["S3:getobject", "SQS:SendMessage", "s3:list*"]))
    assert parse_policy(text, USER_INLINE).statements[0].actions.match("s3:getobject")


def test_unknown_services_are_not_checked_but_known_ones_are():
    parse_policy(doc(with_(ALLOW_GET, Action="ec2:RunInstancez")), USER_INLINE)
    assert message(doc(with_(ALLOW_GET, Action="s3:GetObjekt"))) == "Invalid Action: s3:GetObjekt"
    assert message(doc(with_(ALLOW_GET, Action="sqs:Sendmesage"))) == (
        "Invalid Action: sqs:Sendmesage")


def test_a_wildcard_action_must_name_some_known_action():
    parse_policy(doc(with_(ALLOW_GET, Action=["s3:Get*", "s3:?etObject", "iam:*", "*"])),
                 USER_INLINE)
    assert message(doc(with_(ALLOW_GET, Action="s3:Geet*"))) == "Invalid Action: s3:Geet*"


def test_a_compiled_policy_is_immutable_hashable_and_equal_for_equal_text():
    text = doc(with_(ALLOW_GET, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    one, two = parse_policy(text, USER_INLINE), parse_policy(text, USER_INLINE)
    assert one == two and hash(one) == hash(two)
    assert {one: "cached"}[two] == "cached"
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.version = "2008-10-17"  # type: ignore[misc]


def test_bucket_and_queue_policies_accept_any_sid_iam_only_alphanumeric():
    parse_policy(doc(with_(PUBLIC_READ, Sid="public read-only!")), BUCKET)
    queue = {"Sid": "sns to queue", "Effect": "Allow",
             "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}
    parse_policy(doc(queue), QUEUE)
    assert message(doc(with_(ALLOW_GET, Sid="read-only"))) == (
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
        "regular expression [0-9A-Za-z]*")


def test_principal_forms_aws_accepts():
    principals = [
        "*",
        {"AWS": "*"},
        {"AWS": "111122223333"},
        {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/Bob"]},
        {"AWS": "arn:aws:iam::111122223333:role/path/Admin"},
        {"AWS": "arn:aws:sts::111122223333:assumed-role/Admin/session"},
        {"Service": ["s3.amazonaws.com", "sns.amazonaws.com"]},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    ]
    for principal in principals:
        parse_policy(doc(with_(PUBLIC_READ, Principal=principal)), BUCKET, attached_to=BUCKET_ARN)


def test_trust_policy_takes_principal_and_sts_actions_but_no_resource():
    parse_policy(doc(ASSUME), TRUST)
    parse_policy(doc(with_(ASSUME, Action=["sts:AssumeRole*", "sts:TagSession"])), TRUST)
    assert message(doc(with_(ASSUME, Resource="*")), TRUST) == "Has prohibited field Resource"
    assert message(doc(with_(ASSUME, Action="s3:GetObject")), TRUST) == (
        "AssumeRole policy may only specify STS AssumeRole actions.")
    assert message(doc(without(ASSUME, "Principal")), TRUST) == "Missing required field Principal"


# -- what IAM refuses, in IAM's words ---------------------------------------------------

IAM_REFUSALS = [
    ("{", "Syntax errors in policy."),
    ("", "Syntax errors in policy."),
    ("[]", "Syntax errors in policy."),
    ('{"Statement": [], "Statement": []}', "Syntax errors in policy. Duplicate field Statement"),
    (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (doc(), "Could not parse the policy: Statement is empty!"),
    (doc(ALLOW_GET, version="2012-10-18"), "The policy must contain a valid version string"),
    (json.dumps({"Version": 2012, "Statement": ALLOW_GET}),
     "The policy must contain a valid version string"),
    (doc(ALLOW_GET, Foo="bar"), "Unknown field Foo"),
    (doc(with_(ALLOW_GET, Acton="s3:GetObject")), "Unknown field Acton"),
    (doc("not a statement"), "Syntax errors in policy. a Statement must be an object"),
    (doc(with_(ALLOW_GET, Effect="allow")), "Invalid effect: allow"),
    (doc(without(ALLOW_GET, "Effect")), "Missing required field Effect"),
    (doc(with_(ALLOW_GET, Sid="A"), with_(ALLOW_GET, Sid="A")),
     "Statement IDs (SID) in a single policy must be unique."),
    (doc(with_(ALLOW_GET, Sid=7)), "Syntax errors in policy. Sid must be a string"),
    (doc(with_(ALLOW_GET, Principal="*")), "Policy document should not specify a principal."),
    (doc(with_(ALLOW_GET, NotPrincipal={"AWS": "111122223333"})),
     "Policy document should not specify a principal."),
    (doc(without(ALLOW_GET, "Action")), "Policy statement must contain actions."),
    (doc(with_(ALLOW_GET, Action=[])), "Policy statement must contain actions."),
    (doc(with_(ALLOW_GET, NotAction="s3:PutObject")),
     "Policy statement must contain either Action or NotAction, not both."),
    (doc(with_(ALLOW_GET, Action=5)),
     "Syntax errors in policy. Action must be a string or a list of strings"),
    (doc(with_(ALLOW_GET, Action="GetObject")),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (doc(with_(ALLOW_GET, Action="s3*:GetObject")),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (doc(with_(ALLOW_GET, Action="s3:GetObjekt")), "Invalid Action: s3:GetObjekt"),
    (doc(without(ALLOW_GET, "Resource")), "Policy statement must contain resources."),
    (doc(with_(ALLOW_GET, Resource=[])), "Policy statement must contain resources."),
    (doc(with_(ALLOW_GET, NotResource="*")),
     "Policy statement must contain either Resource or NotResource, not both."),
    (doc(with_(ALLOW_GET, Resource="photos/*")), 'Resource photos/* must be in ARN format or "*".'),
    (doc(with_(ALLOW_GET, Resource="arn:aws:s3:photos")),
     'Resource arn:aws:s3:photos must be in ARN format or "*".'),
    (doc(with_(ALLOW_GET, Resource="arn:aws2:s3:::photos")),
     'Partition "aws2" is not valid for resource "arn:aws2:s3:::photos".'),
    (doc(with_(ALLOW_GET, Resource="arn:aws:s3*:::photos")),
     "Resource vendor must be fully qualified and cannot contain regexes."),
    (doc(with_(ALLOW_GET, Condition=["IpAddress"])),
     "Syntax errors in policy. Condition must be an object"),
    (doc(with_(ALLOW_GET, Condition={"StringEqualz": {"aws:username": "bob"}})),
     "Invalid Condition type : StringEqualz"),
    (doc(with_(ALLOW_GET, Condition={"NullIfExists": {"aws:username": "true"}})),
     "Invalid Condition type : NullIfExists"),
    (doc(with_(ALLOW_GET, Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}})),
     "Invalid Condition type : ForSomeValues:StringEquals"),
    (doc(with_(ALLOW_GET, Condition={"StringEquals": {"username": "bob"}})),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (doc(with_(ALLOW_GET, Condition={"StringEquals": "bob"})),
     "Syntax errors in policy. StringEquals must map condition keys to values"),
    (doc(with_(ALLOW_GET, Condition={"StringEquals": {"aws:username": {"a": 1}}})),
     "Syntax errors in policy. a condition value must be a string, number or boolean"),
]


@pytest.mark.parametrize(("text", "expected"), IAM_REFUSALS)
def test_iam_refuses_malformed_documents_with_malformed_policy_document(text, expected):
    assert message(text, USER_INLINE) == expected


@pytest.mark.parametrize("principal", [
    "arn:aws:iam::111122223333:user/Bob",
    {"AWS": "Bob"},
    {"AWS": "11112222333"},
    {"AWS": "arn:aws:iam::111122223333:user/*"},
    {"AWS": "arn:aws:iam::111122223333:group/Admins"},
    {"AWS": []},
    {"Users": "111122223333"},
    {},
])
def test_trust_policy_refuses_invalid_principals(principal):
    assert message(doc(with_(ASSUME, Principal=principal)), TRUST).startswith(
        "Invalid principal in policy")


def test_resource_policies_require_a_principal_and_not_both_forms():
    assert message(doc(without(PUBLIC_READ, "Principal")), BUCKET) == (
        "Missing required field Principal")
    both = with_(PUBLIC_READ, NotPrincipal={"AWS": "111122223333"})
    assert message(doc(both), BUCKET) == (
        "Policy statement must contain either Principal or NotPrincipal, not both.")


def test_session_policies_are_identity_like_with_sts_codes():
    parse_policy(doc(ALLOW_GET), SESSION)
    err = refused(doc(with_(ALLOW_GET, Principal="*")), SESSION)
    assert (err.code, err.message) == ("MalformedPolicyDocument",
                                       "Policy document should not specify a principal.")


# -- S3's and SQS's wording -------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("{", "This policy contains invalid Json"),
    ("[1]", "Policies must be valid JSON and the first byte must be '{'"),
    ("  policy", "Policies must be valid JSON and the first byte must be '{'"),
    (doc(with_(PUBLIC_READ, Action="s3:GetObjekt")), "Policy has invalid action"),
    (doc(with_(PUBLIC_READ, Action="GetObject")), "Policy has invalid action"),
    (doc(with_(PUBLIC_READ, Action="sqs:SendMessage")), "Policy has invalid action"),
    (doc(with_(PUBLIC_READ, Resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
    (doc(with_(PUBLIC_READ, Resource="arn:aws:s3:::photos-archive/*")),
     "Policy has invalid resource"),
    (doc(with_(PUBLIC_READ, Resource="photos/*")), "Policy has invalid resource"),
    (doc(with_(PUBLIC_READ, Resource=BUCKET_ARN)),
     "Action does not apply to any resource(s) in statement"),
    (doc(with_(PUBLIC_READ, Action="s3:ListBucket")),
     "Action does not apply to any resource(s) in statement"),
    (doc(with_(PUBLIC_READ, Principal={"AWS": "Bob"})), "Invalid principal in policy"),
    (doc(with_(PUBLIC_READ, Effect="Permit")), "Invalid effect: Permit"),
    (doc(with_(PUBLIC_READ, Foo=1)), "Unknown field Foo"),
    (doc(), "Could not parse the policy: Statement is empty!"),
    (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (doc(without(PUBLIC_READ, "Action")), "Missing required field Action"),
    (doc(without(PUBLIC_READ, "Resource")), "Missing required field Resource"),
])
def test_bucket_policies_are_refused_with_s3_malformed_policy(text, expected):
    err = refused(text, BUCKET, attached_to=BUCKET_ARN)
    assert (err.code, err.message) == ("MalformedPolicy", expected)


def test_bucket_policy_statement_may_mix_bucket_and_object_actions_and_resources():
    statement = with_(PUBLIC_READ, Action=["s3:GetObject", "s3:ListBucket", "s3:*"],
                      Resource=[BUCKET_ARN, f"{BUCKET_ARN}/*"])
    parse_policy(doc(statement), BUCKET, attached_to=BUCKET_ARN)
    parse_policy(doc(with_(PUBLIC_READ, Action="s3:Get*", Resource=BUCKET_ARN)), BUCKET,
                 attached_to=BUCKET_ARN)


def test_queue_policies_are_refused_with_sqs_invalid_attribute_value():
    err = refused(doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}), QUEUE)
    assert (err.code, err.message) == ("InvalidAttributeValue",
                                       "Invalid value for the parameter Policy.")
    assert err.details["reason"] == "Missing required field Principal"


def test_queue_policies_keep_sqs_quotas():
    send = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
    parse_policy(doc(*[send] * 20), QUEUE)
    assert "20 statements" in refused(doc(*[send] * 21), QUEUE).details["reason"]
    seven = sorted(actions.SERVICES["sqs"])[:7]
    parse_policy(doc(with_(send, Action=seven)), QUEUE)
    eight = sorted(actions.SERVICES["sqs"])[:8]
    assert "7 actions" in refused(doc(with_(send, Action=eight)), QUEUE).details["reason"]
    accounts = [f"1111222233{n:02d}" for n in range(51)]
    parse_policy(doc(with_(send, Principal={"AWS": accounts[:50]})), QUEUE)
    refused(doc(with_(send, Principal={"AWS": accounts})), QUEUE)
    conditions = {"StringEquals": {f"aws:key{n}": "v" for n in range(11)}}
    refused(doc(with_(send, Condition=conditions)), QUEUE)


# -- sizes ------------------------------------------------------------------------------


def iam_size(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def byte_size(text: str) -> int:
    return len(text.encode())


def sized(statement: dict, size: int, measure, kind: PolicyKind, pad: str = "A", **kw) -> str:
    """A policy whose Sid is padded so the document measures exactly ``size``."""
    base = doc(with_(statement, Sid=""))
    count, rest = divmod(size - measure(base), measure(pad))
    assert rest == 0
    text = doc(with_(statement, Sid=pad * count))
    assert measure(text) == size
    return text


@pytest.mark.parametrize(("kind", "limit", "statement", "code", "text"), [
    (USER_INLINE, 2048, ALLOW_GET, "LimitExceeded", "Cannot exceed quota for PolicySize: 2048"),
    (GROUP_INLINE, 5120, ALLOW_GET, "LimitExceeded", "Cannot exceed quota for PolicySize: 5120"),
    (ROLE_INLINE, 10240, ALLOW_GET, "LimitExceeded", "Cannot exceed quota for PolicySize: 10240"),
    (MANAGED, 6144, ALLOW_GET, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144"),
    (TRUST, 2048, ASSUME, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"),
    (SESSION, 2048, ALLOW_GET, "PackedPolicyTooLarge", None),
])
def test_iam_size_limits_count_characters_without_whitespace(kind, limit, statement, code, text):
    at_limit = sized(statement, limit, iam_size, kind)
    parse_policy(at_limit, kind)
    parse_policy(at_limit.replace("\n", "\n" + " " * 200), kind)  # whitespace is free
    err = refused(sized(statement, limit + 1, iam_size, kind), kind)
    assert err.code == code
    if text:
        assert err.message == text


def test_iam_counts_characters_not_bytes():
    parse_policy(sized(ALLOW_GET, 2048, iam_size, USER_INLINE), USER_INLINE)
    text = doc(with_(ALLOW_GET, Sid="A"))
    assert iam_size(text.replace('"A"', '"é"')) == iam_size(text)


@pytest.mark.parametrize(("kind", "limit", "statement", "code", "attached"), [
    (BUCKET, 20480, PUBLIC_READ, "PolicyTooLarge", BUCKET_ARN),
    (QUEUE, 8192, {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                   "Resource": "*"}, "InvalidAttributeValue", None),
])
def test_s3_and_sqs_size_limits_count_bytes(kind, limit, statement, code, attached):
    parse_policy(sized(statement, limit, byte_size, kind), kind, attached_to=attached)
    assert refused(sized(statement, limit + 1, byte_size, kind), kind,
                   attached_to=attached).code == code
    # a two-byte character counts twice: one A turned into é is one byte more
    at_limit = sized(statement, limit - 1, byte_size, kind).replace('"Sid": "A', '"Sid": "é', 1)
    assert byte_size(at_limit) == limit
    parse_policy(at_limit, kind, attached_to=attached)
    over = at_limit.replace("éA", "éé", 1)
    assert len(over) == len(at_limit)
    assert refused(over, kind, attached_to=attached).code == code


def test_s3_too_large_message():
    err = refused(sized(PUBLIC_READ, 20481, byte_size, BUCKET), BUCKET, attached_to=BUCKET_ARN)
    assert err.message == "Policy exceeds the maximum allowed document size."


# -- the action catalogue ---------------------------------------------------------------


def test_catalogue_knows_each_service_and_its_condition_keys():
    assert actions.canonical_action("S3:getobject") == "s3:GetObject"
    assert actions.canonical_action("elasticache:connect") == "elasticache:Connect"
    assert actions.canonical_action("engine:Heal") == "engine:Heal"
    assert actions.canonical_action("s3:GetObjekt") is None
    assert actions.actions_matching("sts", "AssumeRole*") == {
        "sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"}
    assert {"s3:prefix", "s3:delimiter", "s3:max-keys"} <= actions.condition_keys_for(
        "s3:ListBucket")
    assert "s3:versionid" in actions.condition_keys_for("s3:GetObjectVersion")
    assert "s3:prefix" not in actions.condition_keys_for("s3:GetObject")
    assert actions.supports_condition_key("s3:GetObject", "s3:ExistingObjectTag/team")
    assert actions.supports_condition_key("sqs:SendMessage", "aws:SourceArn")
    assert not actions.supports_condition_key("sqs:SendMessage", "s3:prefix")
    assert actions.s3_resource_type("s3:GetObject") == "object"
    assert actions.s3_resource_type("s3:ListBucketVersions") == "bucket"
    assert actions.s3_resource_type("s3:ListAllMyBuckets") == "other"
