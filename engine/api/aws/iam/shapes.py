"""What the query protocol needs to know of IAM's and STS's models, and nothing more.

The identity services take and return dicts in boto3's shape (engine/iam/service/); the
wire carries text. Reading a form back into those dicts needs only which input members
are integers, booleans, lists or structures (a list may come empty, as ``Name=``, and a
member in the wrong form is refused before it reaches a service); writing XML needs
only which output members are maps and which are policy documents (IAM sends those
percent-encoded, RFC 3986, and SDKs decode them). Those few names are listed here
rather than reading botocore's models at run time: botocore is a client library (and
~30 MB of compressed models) the node does not otherwise need. A unit test
(tests/unit/test_iam_query_shapes.py) checks these tables against botocore's models for
every action served, so a new action or a model change that needs an entry fails there,
not on a client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from engine.api.aws.query_form import FormModel
from engine.iam.service import OPERATIONS as IAM_OPERATIONS

IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"


def percent_encoded(document: str) -> str:
    """A policy document as IAM's query API returns it (every reserved byte escaped)."""
    return quote(document, safe="")


@dataclass(frozen=True)
class QueryApi:
    """One query-protocol API served on the AWS port."""

    service: str  # the SigV4 scope's service, and the access table's
    version: str
    actions: frozenset[str]
    rpc: str  # the gRPC method whose access rule authorizes a call
    form: FormModel  # the input members that are not strings
    maps: frozenset[str] = frozenset()
    transforms: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    # action -> member order of its result, where AWS's documentation pins one
    orders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # actions whose output has no members, yet a Result element SDKs look for
    empty_results: frozenset[str] = frozenset()

    @property
    def namespace(self) -> str:
        return f"https://{self.service}.amazonaws.com/doc/{self.version}/"


IAM = QueryApi(
    service="iam", version=IAM_VERSION, actions=frozenset(IAM_OPERATIONS),
    rpc="/engine.v1.Iam/Call",
    form=FormModel(
        integers=frozenset({"MaxItems", "MaxSessionDuration", "MaxSigninSessionDuration"}),
        booleans=frozenset({"OnlyAttached", "SetAsDefault", "ResetMaxSigninSessionDuration"}),
        lists=frozenset({"ActionNames", "ContextKeyValues", "PermissionsBoundaryPolicyInputList",
                         "PolicyInputList", "ResourceArns", "ServiceControlPolicyInputList"}),
        structure_lists=frozenset({"ContextEntries", "OrderedOrganizationPolicyInputList",
                                   "PolicyExclusionList", "Tags"}),
        structures=frozenset({"InlinePolicyIdentifier"})),
    maps=frozenset({"EvalDecisionDetails"}),
    transforms={name: percent_encoded
                for name in ("PolicyDocument", "AssumeRolePolicyDocument", "Document")},
    empty_results=frozenset({"UpdateRole"}),
)

STS = QueryApi(
    service="sts", version=STS_VERSION,
    actions=frozenset({"GetCallerIdentity", "GetSessionToken", "AssumeRole"}),
    rpc="/engine.v1.Sts/Call",
    form=FormModel(
        integers=frozenset({"DurationSeconds", "MinimumSessionTokenSize"}),
        lists=frozenset({"TransitiveTagKeys"}),
        structure_lists=frozenset({"PolicyArns", "ProvidedContexts", "Tags"})),
    orders={"GetCallerIdentity": ("Arn", "UserId", "Account")},
)
