"""IAM checker: a deactivated or deleted access key stops working on every node within a
bound.

The harness records UpdateAccessKey to Inactive as ``deactivate_key``, DeleteAccessKey
as ``delete_access_key`` and UpdateAccessKey to Active as ``activate_key`` (key: the
access key id), and marks every signed request with ``access_key`` and the ``node`` that
served it. A request is accepted when it did not fail with an authentication error (an
``ok``, or a ``fail`` with, say, NoSuchKey: the signature was accepted). Indeterminate
requests prove nothing.

Model: once a deactivation is acknowledged, every node has ``bound_ns`` to apply it; a
request with that key invoked later than acknowledgement + bound and accepted by a node
is an anomaly for that node, until a re-activation of the key is invoked. The engine
documents one second on a healthy cluster (docs/iam.md, "Propagation"); a node cut off
from the meta group's majority cannot apply a change, so the harness sets the bound
for scenarios with partitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.chaos.checkers.anomaly import Anomaly, excerpt_of
from engine.chaos.history import Operation

DEACTIVATIONS = frozenset({"deactivate_key", "delete_access_key"})
ACTIVATIONS = frozenset({"activate_key"})
DEFAULT_BOUND_NS = 1_000_000_000
# Codes a request signed with an unusable key gets, per endpoint: S3, the query and JSON
# protocols (SQS, IAM, STS), RESP and gRPC.
REJECTIONS = frozenset({
    "InvalidAccessKeyId", "InvalidClientTokenId", "UnrecognizedClientException",
    "AccessDenied", "AccessDeniedException", "SignatureDoesNotMatch", "AuthFailure",
    "WRONGPASS", "NOAUTH", "UNAUTHENTICATED", "PERMISSION_DENIED",
})


@dataclass
class IamReport:
    anomalies: list[Anomaly] = field(default_factory=list)
    late_acceptances: int = 0  # requests accepted after the bound


def accepted(op: Operation, rejections: frozenset[str] = REJECTIONS) -> bool:
    if op.type == "ok":
        return True
    return op.type == "fail" and op.error is not None and op.error not in rejections


def check(ops: Iterable[Operation], bound_ns: int = DEFAULT_BOUND_NS,
          rejections: frozenset[str] = REJECTIONS) -> IamReport:
    ops = list(ops)
    changes: dict[str, list[Operation]] = {}
    requests: dict[str, list[Operation]] = {}
    for op in ops:
        if op.f in DEACTIVATIONS | ACTIVATIONS and op.key is not None:
            changes.setdefault(op.key, []).append(op)
        elif op.extra.get("access_key") is not None:
            requests.setdefault(str(op.extra["access_key"]), []).append(op)
    report = IamReport()
    for key, key_changes in changes.items():
        for off in key_changes:
            if off.f not in DEACTIVATIONS or off.type != "ok" or off.complete_ns is None:
                continue
            deadline = off.complete_ns + bound_ns
            reopened = min((a.invoke_ns for a in key_changes if a.f in ACTIVATIONS
                            and a.type != "fail" and a.invoke_ns > off.invoke_ns),
                           default=float("inf"))
            late: dict[str, list[Operation]] = {}
            for r in requests.get(key, ()):
                if deadline < r.invoke_ns < reopened and accepted(r, rejections):
                    late.setdefault(str(r.extra.get("node")), []).append(r)
            for node, on_node in sorted(late.items()):
                report.late_acceptances += len(on_node)
                first = on_node[0]
                report.anomalies.append(Anomaly(
                    "key-still-active", key,
                    f"node {node} accepted {len(on_node)} request(s) with {key} more than "
                    f"{bound_ns / 1e9:g} s after {off.f} {off.index} was acknowledged, the "
                    f"first {(first.invoke_ns - off.complete_ns) / 1e9:.3f} s after",
                    excerpt_of([off, first])))
    return report
