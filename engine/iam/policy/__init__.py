"""The IAM policy language: parse and validate a document, compile it once, evaluate it.

    policy = parse_policy(text, BUCKET, attached_to="arn:aws:s3:::photos")
    decision = evaluate(RequestContext("s3:GetObject", "arn:aws:s3:::photos/cat.jpg",
                                       principal_arn=user_arn, keys={"aws:SourceIp": ip}),
                        identity=[("ReadPhotos", user_policy)], resource=[("bucket", policy)])
"""

from engine.iam.policy.context import RequestContext
from engine.iam.policy.document import VERSIONS, parse_policy, policy_error
from engine.iam.policy.evaluate import Decision, NamedPolicies, StatementRef, evaluate
from engine.iam.policy.kinds import (
    BUCKET,
    GROUP_INLINE,
    KINDS,
    MANAGED,
    QUEUE,
    ROLE_INLINE,
    SESSION,
    TRUST,
    USER_INLINE,
    PolicyKind,
)
from engine.iam.policy.statement import CompiledPolicy, Statement

__all__ = [
    "BUCKET",
    "GROUP_INLINE",
    "KINDS",
    "MANAGED",
    "QUEUE",
    "ROLE_INLINE",
    "SESSION",
    "TRUST",
    "USER_INLINE",
    "VERSIONS",
    "CompiledPolicy",
    "Decision",
    "NamedPolicies",
    "PolicyKind",
    "RequestContext",
    "Statement",
    "StatementRef",
    "evaluate",
    "parse_policy",
    "policy_error",
]
