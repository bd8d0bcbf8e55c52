"""AWS's evaluation logic on the worked examples of the IAM, S3 and SQS documentation:
explicit deny, same- and cross-account, principals and NotPrincipal, session policies,
anonymous and service requesters, NotAction/NotResource, and which statement decided."""

from __future__ import annotations

import json

from engine.iam.policy import (
    BUCKET,
    QUEUE,
    ROLE_INLINE,
    SESSION,
    USER_INLINE,
    RequestContext,
    evaluate,
    parse_policy,
)

A = "111122223333"
B = "444455556666"
BOB = f"arn:aws:iam::{B}:user/Bob"
ALICE = f"arn:aws:iam::{B}:user/Alice"
BUCKET_ARN = "arn:aws:s3:::BUCKETNAME"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def identity(*statements: dict):
    return ("identity", parse_policy(doc(*statements), USER_INLINE))


def bucket_policy(*statements: dict, bucket: str = BUCKET_ARN):
    return ("bucket", parse_policy(doc(*statements), BUCKET, attached_to=bucket))


def ctx(action: str, resource: str, principal: str | None, **kw) -> RequestContext:
    return RequestContext(action, resource, principal_arn=principal, **kw)


ALLOW_S3 = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


# -- IAM User Guide, "Example identity-based and resource-based policy evaluation" --------

CARLOS = f"arn:aws:iam::{A}:user/carlossalazar"
CARLOS_BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar"
CARLOS_POLICY = identity(
    {"Sid": "AllowS3ListRead", "Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints",
                "s3:ListAllMyBuckets"], "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": [f"{CARLOS_BUCKET}/*", CARLOS_BUCKET]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS_BUCKET_POLICY = bucket_policy(
    {"Effect": "Allow", "Principal": {"AWS": CARLOS}, "Action": "s3:*",
     "Resource": f"{CARLOS_BUCKET}/*"}, bucket=CARLOS_BUCKET)


def test_carlos_cannot_write_to_a_logs_bucket_the_deny_wins():
    request = ctx("s3:PutObject", f"{CARLOS_BUCKET}-logs/file.txt", CARLOS)
    decision = evaluate(request, identity=[CARLOS_POLICY], resource=[CARLOS_BUCKET_POLICY])
    assert (decision.allowed, decision.kind) == (False, "explicit-deny")
    assert (decision.statement.policy, decision.statement.sid) == ("identity", "DenyS3Logs")
    assert str(decision.statement) == "identity policy identity, Sid DenyS3Logs"


def test_carlos_writes_to_his_own_bucket_either_policy_is_enough():
    request = ctx("s3:PutObject", f"{CARLOS_BUCKET}/file.txt", CARLOS)
    decision = evaluate(request, identity=[CARLOS_POLICY], resource=[CARLOS_BUCKET_POLICY])
    assert decision.allowed and decision.statement.sid == "AllowS3Self"
    only_bucket = evaluate(request, resource=[CARLOS_BUCKET_POLICY])
    assert only_bucket.allowed and only_bucket.statement.source == "resource"
    assert evaluate(request, identity=[CARLOS_POLICY]).allowed
    someone_else = ctx("s3:PutObject", f"{CARLOS_BUCKET}/file.txt", f"arn:aws:iam::{A}:user/mary")
    decision = evaluate(someone_else, resource=[CARLOS_BUCKET_POLICY])
    assert (decision.allowed, decision.kind, decision.statement) == (False, "implicit-deny", None)


def test_nothing_allows_means_implicit_deny():
    decision = evaluate(ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB))
    assert (decision.allowed, decision.kind) == (False, "implicit-deny")


def test_a_deny_in_any_policy_beats_an_earlier_allow():
    deny = identity({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    request = ctx("s3:DeleteObject", f"{BUCKET_ARN}/k", BOB)
    assert evaluate(request, identity=[identity(ALLOW_S3), deny]).kind == "explicit-deny"
    resource_deny = bucket_policy({"Effect": "Deny", "Principal": {"AWS": BOB},
                                   "Action": "s3:DeleteObject", "Resource": f"{BUCKET_ARN}/*"})
    assert evaluate(request, identity=[identity(ALLOW_S3)], resource=[resource_deny]).kind == (
        "explicit-deny")
    # a resource-policy Deny only concerns the principals it names
    other = ctx("s3:DeleteObject", f"{BUCKET_ARN}/k", ALICE)
    assert evaluate(other, identity=[identity(ALLOW_S3)], resource=[resource_deny]).allowed


# -- cross-account -----------------------------------------------------------------------

GRANT_B = bucket_policy({"Effect": "Allow", "Principal": {"AWS": B}, "Action": "s3:GetObject",
                         "Resource": f"{BUCKET_ARN}/*"})


def test_cross_account_needs_the_resource_policy_and_the_identity_policy():
    request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB, resource_account=A)
    both = evaluate(request, identity=[identity(ALLOW_S3)], resource=[GRANT_B])
    assert both.allowed and both.statement.source == "resource"
    assert both.also[0].source == "identity"
    no_identity = evaluate(request, resource=[GRANT_B])
    assert not no_identity.allowed
    assert no_identity.reason == "no identity-based policy allows the request (cross-account)"
    no_grant = evaluate(request, identity=[identity(ALLOW_S3)])
    assert not no_grant.allowed
    assert no_grant.reason == "no resource-based policy allows the request (cross-account)"


def test_an_account_principal_covers_its_users_and_root_arn_means_the_same():
    root = bucket_policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                          "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"})
    for grant in (GRANT_B, root):
        for user in (BOB, ALICE):
            request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", user, resource_account=A)
            assert evaluate(request, identity=[identity(ALLOW_S3)], resource=[grant]).allowed
    stranger = ctx("s3:GetObject", f"{BUCKET_ARN}/k", f"arn:aws:iam::{A}:user/Zed")
    assert not evaluate(stranger, resource=[GRANT_B]).allowed


# -- S3 User Guide bucket policy examples -------------------------------------------------

def test_allow_read_only_from_an_ip_range_except_one_address():
    # "Restricting access to specific IP addresses" (anonymous read from a range)
    policy = bucket_policy({
        "Sid": "IPAllow", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "54.240.143.0/24"},
                      "NotIpAddress": {"aws:SourceIp": "54.240.143.188/32"}}})

    def get(ip: str) -> bool:
        request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", None, keys={"aws:SourceIp": ip})
        return evaluate(request, resource=[policy]).allowed

    assert get("54.240.143.10")
    assert not get("54.240.143.188")
    assert not get("192.0.2.1")


def test_deny_every_s3_action_from_outside_the_listed_networks():
    policy = ("bucket", parse_policy(json.dumps({"Version": "2012-10-17", "Id": "SourceIP",
                                                 "Statement": [{
        "Sid": "SourceIP", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8::/32"]}}}]}),
        BUCKET, attached_to=BUCKET_ARN))

    def put(ip: str):
        request = ctx("s3:PutObject", f"{BUCKET_ARN}/k", BOB, keys={"aws:SourceIp": ip})
        return evaluate(request, identity=[identity(ALLOW_S3)], resource=[policy])

    assert put("192.0.2.44").allowed
    assert put("2001:db8::8").allowed
    decision = put("198.51.100.7")
    assert decision.kind == "explicit-deny" and decision.statement.sid == "SourceIP"
    assert decision.statement.policy_id == "SourceIP"


def test_deny_requests_without_tls():
    policy = bucket_policy({
        "Sid": "RestrictToTLSRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    for secure, allowed in (("true", True), ("false", False), (True, True), (False, False)):
        request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB,
                      keys={"aws:SecureTransport": secure})
        assert evaluate(request, identity=[identity(ALLOW_S3)],
                        resource=[policy]).allowed is allowed


# -- IAM User Guide, "NotPrincipal": Deny with NotPrincipal ------------------------------

def not_principal(*names: str):
    return bucket_policy({"Effect": "Deny", "NotPrincipal": {"AWS": list(names)},
                          "Action": "s3:*", "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"]})


def test_not_principal_deny_spares_only_the_listed_user_and_account():
    policy = not_principal(BOB, f"arn:aws:iam::{B}:root")
    for user, allowed in ((BOB, True), (ALICE, False)):
        request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", user)
        assert evaluate(request, identity=[identity(ALLOW_S3)],
                        resource=[policy]).allowed is allowed
    anonymous = ctx("s3:GetObject", f"{BUCKET_ARN}/k", None)
    assert evaluate(anonymous, resource=[policy]).kind == "explicit-deny"


def test_not_principal_without_the_account_denies_the_user_too():
    request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB)
    decision = evaluate(request, identity=[identity(ALLOW_S3)], resource=[not_principal(BOB)])
    assert decision.kind == "explicit-deny"


def test_not_principal_spares_a_session_only_with_session_role_and_account():
    role = f"arn:aws:iam::{B}:role/cross-account-read-only-role"
    session = f"arn:aws:sts::{B}:assumed-role/cross-account-read-only-role/audit-app"
    request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", session)
    full = not_principal(session, role, f"arn:aws:iam::{B}:root")
    assert evaluate(request, identity=[identity(ALLOW_S3)], resource=[full]).allowed
    partial = not_principal(session)
    assert evaluate(request, identity=[identity(ALLOW_S3)], resource=[partial]).kind == (
        "explicit-deny")


# -- session policies --------------------------------------------------------------------

ROLE = f"arn:aws:iam::{A}:role/division/Admin"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/Admin/bob-session"
ROLE_POLICY = ("AdminAccess", parse_policy(doc(ALLOW_S3), ROLE_INLINE))
READ_ONLY = ("read-only", parse_policy(doc(
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}), SESSION))


def test_a_session_policy_intersects_with_the_roles_policies():
    get = ctx("s3:GetObject", f"{BUCKET_ARN}/k", SESSION_ARN)
    put = ctx("s3:PutObject", f"{BUCKET_ARN}/k", SESSION_ARN)
    decision = evaluate(get, identity=[ROLE_POLICY], session=[READ_ONLY])
    assert decision.allowed and decision.statement.policy == "AdminAccess"
    assert decision.also[0].policy == "read-only"
    denied = evaluate(put, identity=[ROLE_POLICY], session=[READ_ONLY])
    assert (denied.kind, denied.reason) == ("implicit-deny", "no session policy allows the request")
    # a session policy cannot grant what the role lacks
    assert not evaluate(get, session=[READ_ONLY]).allowed
    assert evaluate(put, identity=[ROLE_POLICY]).allowed  # no session policy: no cap


def test_a_session_policy_deny_is_an_explicit_deny():
    deny = ("no-deletes", parse_policy(doc(ALLOW_S3, {
        "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}), SESSION))
    request = ctx("s3:DeleteObject", f"{BUCKET_ARN}/k", SESSION_ARN)
    decision = evaluate(request, identity=[ROLE_POLICY], session=[deny])
    assert decision.kind == "explicit-deny" and decision.statement.source == "session"


def test_a_resource_policy_naming_the_session_escapes_the_session_policy():
    put = ctx("s3:PutObject", f"{BUCKET_ARN}/k", SESSION_ARN)
    to_session = bucket_policy({"Effect": "Allow", "Principal": {"AWS": SESSION_ARN},
                                "Action": "s3:PutObject", "Resource": f"{BUCKET_ARN}/*"})
    decision = evaluate(put, resource=[to_session], session=[READ_ONLY])
    assert decision.allowed and decision.statement.source == "resource"
    to_role = bucket_policy({"Effect": "Allow", "Principal": {"AWS": ROLE},
                             "Action": "s3:PutObject", "Resource": f"{BUCKET_ARN}/*"})
    assert evaluate(put, resource=[to_role]).allowed  # the role's ARN covers its sessions
    assert not evaluate(put, resource=[to_role], session=[READ_ONLY]).allowed
    get = ctx("s3:GetObject", f"{BUCKET_ARN}/k", SESSION_ARN)
    to_role_get = bucket_policy({"Effect": "Allow", "Principal": {"AWS": ROLE},
                                 "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"})
    assert evaluate(get, resource=[to_role_get], session=[READ_ONLY]).allowed


# -- anonymous and service requesters ----------------------------------------------------

def test_anonymous_requests_are_allowed_only_by_everyone_principals():
    request = ctx("s3:GetObject", f"{BUCKET_ARN}/k", None)
    for principal in ("*", {"AWS": "*"}):
        policy = bucket_policy({"Effect": "Allow", "Principal": principal,
                                "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"})
        assert evaluate(request, resource=[policy]).allowed
    assert not evaluate(request, resource=[GRANT_B]).allowed
    assert not evaluate(request, identity=[identity(ALLOW_S3)]).allowed


def test_a_queue_policy_lets_an_sns_topic_send():
    queue = f"arn:aws:sqs:us-east-1:{A}:orders"
    topic = f"arn:aws:sns:us-east-1:{A}:order-events"
    policy = ("queue", parse_policy(doc({
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}), QUEUE))

    def send(service: str, source: str) -> bool:
        request = RequestContext("sqs:SendMessage", queue, principal_arn=service,
                                 principal_type="Service", resource_account=A,
                                 keys={"aws:SourceArn": source})
        return evaluate(request, resource=[policy]).allowed

    assert send("sns.amazonaws.com", topic)
    assert not send("sns.amazonaws.com", f"arn:aws:sns:us-east-1:{A}:other")
    assert not send("events.amazonaws.com", topic)


# -- NotAction and NotResource -----------------------------------------------------------

def test_not_action_allows_everything_else():
    policy = identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate(ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB), identity=[policy]).allowed
    assert not evaluate(ctx("iam:CreateUser", "*", BOB), identity=[policy]).allowed


def test_not_resource_deny_protects_everything_but_the_listed_resources():
    policy = identity(ALLOW_S3, {"Sid": "OnlySafe", "Effect": "Deny", "Action": "s3:*",
                                 "NotResource": ["arn:aws:s3:::safe", "arn:aws:s3:::safe/*"]})
    assert evaluate(ctx("s3:GetObject", "arn:aws:s3:::safe/k", BOB), identity=[policy]).allowed
    decision = evaluate(ctx("s3:GetObject", "arn:aws:s3:::other/k", BOB), identity=[policy])
    assert decision.kind == "explicit-deny" and decision.statement.sid == "OnlySafe"


def test_the_deciding_statement_is_named_by_index_without_a_sid():
    policy = identity({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
                      {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    decision = evaluate(ctx("s3:GetObject", f"{BUCKET_ARN}/k", BOB), identity=[policy])
    assert (decision.statement.index, decision.statement.sid) == (1, None)
    assert str(decision.statement) == "identity policy identity, statement #2"
    assert decision.reason == "allowed by identity policy identity, statement #2"


def test_actions_match_case_insensitively_and_resources_case_sensitively():
    policy = identity({"Effect": "Allow", "Action": "S3:GETOBJECT",
                       "Resource": "arn:aws:s3:::Photos/*"})
    assert evaluate(ctx("s3:GetObject", "arn:aws:s3:::Photos/x", BOB), identity=[policy]).allowed
    assert not evaluate(ctx("s3:GetObject", "arn:aws:s3:::photos/x", BOB),
                        identity=[policy]).allowed


def test_resource_wildcards_stay_inside_their_arn_component():
    policy = identity({"Effect": "Allow", "Action": "sqs:*",
                       "Resource": f"arn:aws:sqs:*:{A}:orders*"})
    for queue, allowed in ((f"arn:aws:sqs:us-east-1:{A}:orders", True),
                           (f"arn:aws:sqs:eu-west-1:{A}:orders-dlq", True),
                           (f"arn:aws:sqs:us-east-1:{B}:orders", False)):
        request = ctx("sqs:SendMessage", queue, f"arn:aws:iam::{A}:user/u")
        assert evaluate(request, identity=[policy]).allowed is allowed
