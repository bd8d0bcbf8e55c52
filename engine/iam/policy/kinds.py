"""Kinds of policy documents: what each must and must not contain, how large it may be,
and how the service that stores it words a refusal.

The same language serves IAM (identity, trust and session policies), S3 bucket policies
and SQS queue policies, but each service has its own error code and wording: IAM answers
``MalformedPolicyDocument`` ("Policy document should not specify a principal."), S3
``MalformedPolicy`` ("Policy has invalid resource"), SQS ``InvalidAttributeValue``
("Invalid value for the parameter Policy."). Validation raises :class:`PolicyProblem`
naming what is wrong; :meth:`PolicyKind.error` turns it into the service's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.errors import EngineError

# problem -> IAM's wording (AWS's where known); {value} and {detail} are filled in.
_IAM_WORDING: dict[str, str] = {
    "json": "Syntax errors in policy.",
    "first_byte": "Syntax errors in policy.",
    "syntax": "Syntax errors in policy. {detail}",
    "unknown_field": "Unknown field {value}",
    "missing_statement": "Missing required field Statement",
    "empty_statement": "Could not parse the policy: Statement is empty!",
    "version": "The policy must contain a valid version string",
    "missing_effect": "Missing required field Effect",
    "effect": "Invalid effect: {value}",
    "sid_unique": "Statement IDs (SID) in a single policy must be unique.",
    "sid_format": ("Statement IDs (SID) must be alpha-numeric. Check that your input "
                   "satisfies the regular expression [0-9A-Za-z]*"),
    "missing_action": "Policy statement must contain actions.",
    "both_action": "Policy statement must contain either Action or NotAction, not both.",
    "action_vendor": "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    "invalid_action": "Invalid Action: {value}",
    "trust_action": "AssumeRole policy may only specify STS AssumeRole actions.",
    "missing_resource": "Policy statement must contain resources.",
    "both_resource": "Policy statement must contain either Resource or NotResource, not both.",
    "resource_forbidden": "Has prohibited field {value}",
    "invalid_resource": 'Resource {value} must be in ARN format or "*".',
    "resource_partition": 'Partition "{detail}" is not valid for resource "{value}".',
    "resource_vendor": "Resource vendor must be fully qualified and cannot contain regexes.",
    "foreign_resource": "Policy has invalid resource",
    "resource_mismatch": "Action does not apply to any resource(s) in statement",
    "principal_forbidden": "Policy document should not specify a principal.",
    "missing_principal": "Missing required field Principal",
    "both_principal": "Policy statement must contain either Principal or NotPrincipal, not both.",
    "invalid_principal": "Invalid principal in policy: {value}",
    "condition_type": "Invalid Condition type : {value}",
    "condition_key": "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    "limit": "Policy exceeds the limit of {value} {detail}",
}
# S3's PutBucketPolicy wording where it differs (S3's MalformedPolicy messages).
_S3_WORDING: dict[str, str] = {
    "json": "This policy contains invalid Json",
    "first_byte": "Policies must be valid JSON and the first byte must be '{{'",
    "syntax": "This policy contains invalid Json",
    "missing_action": "Missing required field Action",
    "action_vendor": "Policy has invalid action",
    "invalid_action": "Policy has invalid action",
    "missing_resource": "Missing required field Resource",
    "invalid_resource": "Policy has invalid resource",
    "resource_partition": "Policy has invalid resource",
    "resource_vendor": "Policy has invalid resource",
    "invalid_principal": "Invalid principal in policy",
}


class PolicyProblem(Exception):
    """What is wrong with a document, before a kind words it for its service."""

    def __init__(self, problem: str, *, value: str = "", detail: str = "") -> None:
        self.problem = problem
        self.value = value
        self.detail = detail
        super().__init__(problem, value, detail)


@dataclass(frozen=True)
class PolicyKind:
    """Where a document is attached, which decides its rules, limits and error codes."""

    name: str
    principal: Literal["required", "forbidden"]
    resource: Literal["required", "forbidden"]  # trust policies name no resource
    max_size: int
    count: Literal["chars", "bytes"]  # chars: non-whitespace characters (IAM's rule)
    malformed_code: str
    too_large_code: str
    too_large_message: str
    dialect: Literal["iam", "s3"] = "iam"
    fixed_message: str | None = None  # SQS words every refusal the same way
    alphanumeric_sid: bool = True  # IAM's rule; S3 and SQS take any Sid
    trust: bool = False  # actions limited to sts:AssumeRole*, sts:TagSession, ...
    max_statements: int | None = None
    max_principals: int | None = None
    max_actions: int | None = None  # per statement
    max_conditions: int | None = None  # per statement

    def error(self, problem: PolicyProblem) -> EngineError:
        wording = _S3_WORDING if self.dialect == "s3" else {}
        template = wording.get(problem.problem) or _IAM_WORDING.get(problem.problem, "{detail}")
        reason = template.format(value=problem.value, detail=problem.detail).strip()
        if self.fixed_message is not None:
            return EngineError(self.malformed_code, self.fixed_message, reason=reason)
        return EngineError(self.malformed_code, reason)

    def too_large(self) -> EngineError:
        return EngineError(self.too_large_code, self.too_large_message)

    def size_of(self, text: str) -> int:
        if self.count == "bytes":
            return len(text.encode())
        return sum(1 for char in text if not char.isspace())


def _iam(name: str, limit: int) -> PolicyKind:
    return PolicyKind(
        name=name, principal="forbidden", resource="required", max_size=limit, count="chars",
        malformed_code="MalformedPolicyDocument", too_large_code="LimitExceeded",
        too_large_message=f"Cannot exceed quota for PolicySize: {limit}",
    )


USER_INLINE = _iam("user-inline", 2048)
GROUP_INLINE = _iam("group-inline", 5120)
ROLE_INLINE = _iam("role-inline", 10240)
MANAGED = _iam("managed", 6144)
TRUST = PolicyKind(
    name="trust", principal="required", resource="forbidden", max_size=2048, count="chars",
    malformed_code="MalformedPolicyDocument", too_large_code="LimitExceeded",
    too_large_message="Cannot exceed quota for ACLSizePerRole: 2048", trust=True,
)
# AssumeRole's Policy parameter: STS's codes.
SESSION = PolicyKind(
    name="session", principal="forbidden", resource="required", max_size=2048, count="chars",
    malformed_code="MalformedPolicyDocument", too_large_code="PackedPolicyTooLarge",
    too_large_message=("The request was rejected because the total packed size of the session "
                       "policies and session tags combined was too large."),
)
BUCKET = PolicyKind(
    name="bucket", principal="required", resource="required", max_size=20 * 1024,
    count="bytes", malformed_code="MalformedPolicy", too_large_code="PolicyTooLarge",
    too_large_message="Policy exceeds the maximum allowed document size.", dialect="s3",
    alphanumeric_sid=False,
)
# SQS's documented policy quotas: 8,192 bytes, 20 statements, 50 principals, 7 actions
# per statement, 10 conditions.
QUEUE = PolicyKind(
    name="queue", principal="required", resource="required", max_size=8192, count="bytes",
    malformed_code="InvalidAttributeValue", too_large_code="InvalidAttributeValue",
    too_large_message="Invalid value for the parameter Policy.",
    fixed_message="Invalid value for the parameter Policy.", alphanumeric_sid=False,
    max_statements=20, max_principals=50, max_actions=7, max_conditions=10,
)
KINDS = {k.name: k for k in (USER_INLINE, GROUP_INLINE, ROLE_INLINE, MANAGED, TRUST, SESSION,
                             BUCKET, QUEUE)}
