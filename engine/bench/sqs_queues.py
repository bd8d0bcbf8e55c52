"""The queue workload over SQS's JSON protocol on the node's HTTP port, its bare HTTP
baseline, and the report of a run of both protocols.

The same phases, queue settings and client as the gRPC queue workload
(engine/bench/queues.py): only the calls' transport differs (engine/bench/sqs_http.py),
so the two protocols' figures line up. Queues are created and removed over gRPC by the
coordinator, as for gRPC runs. The baseline is the node's ``/_engine/echo`` handler on
the same HTTP server, a signed request with no storage behind it, carrying a message's
bytes there and back as gRPC's Echo.Unary does.

``--protocol both`` runs the gRPC workload, then the SQS one on a queue of its own, then
both baselines, and reports them as one run: gRPC's phases under their names, SQS's
under ``sqs:<phase>`` (its pipeline section too), the HTTP baseline as ``http:unary``,
and ``sqs_vs_grpc``: every SQS phase's messages/s over gRPC's (the issue's target is at
least 0.8 for send-batch, receive and delete-batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.bench.queue_client import QueuesClient
from engine.bench.queues import QueuesWorkload
from engine.bench.s3_objects import S3EchoWorkload
from engine.bench.sqs_http import SqsStub, SqsTarget

SQS = "sqs:"  # prefix of the SQS phases in a report of both protocols
HTTP_UNARY = "http:unary"
MIN_CONNECTIONS = 64


class SqsTargets:
    """One SqsTarget per endpoint, opened and closed together (a process's transport)."""

    def __init__(self, addresses: Sequence[str], connections: int) -> None:
        self.targets = [SqsTarget(a, connections) for a in addresses]
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> SqsTargets:
        for target in self.targets:
            await self._stack.enter_async_context(target)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()


@dataclass(frozen=True)
class SqsQueuesWorkload(QueuesWorkload):
    """``http``: each gRPC endpoint's HTTP address (the load goes to the latter)."""

    http: Mapping[str, str] = field(default_factory=dict)
    name: str = "queues-sqs"

    def transport(self, endpoint: str) -> SqsTargets:
        return SqsTargets([self.http[e] for e in self.endpoints],
                          max(MIN_CONNECTIONS, self.concurrency))

    def client(self, channel: Any, process_index: int, processes: int) -> QueuesClient:
        """Coroutine g talks to endpoint g mod n, as in the gRPC workload."""
        return QueuesClient(self, [SqsStub(t) for t in channel.targets], process_index)


@dataclass(frozen=True)
class HttpUnaryBaseline(S3EchoWorkload):
    """Only the bare handler's unary call: every SQS call is one small request."""

    name: str = "baseline-http"

    def phases(self) -> Sequence[str]:
        return ("unary",)


def merge_protocols(grpc: dict[str, Any], sqs: dict[str, Any]) -> dict[str, Any]:
    """One report of a gRPC run and an SQS run (both from build_report and
    add_queue_figures): see the module docstring."""
    report = dict(grpc)
    report["config"] = {**grpc["config"], "protocol": "both",
                        "sqs_queue": sqs["config"]["queue"]}
    report["phases"] = {**grpc["phases"],
                        **{SQS + name: p for name, p in sqs["phases"].items()}}
    if grpc["baseline"] is not None and sqs["baseline"] is not None:
        report["baseline"] = {**grpc["baseline"], HTTP_UNARY: sqs["baseline"]["unary"]}
    report["vs_baseline"] = {**grpc["vs_baseline"], **{
        SQS + name: {**vs, "baseline": HTTP_UNARY} for name, vs in sqs["vs_baseline"].items()}}
    report[SQS + "pipeline"] = sqs["pipeline"]
    report["sqs_vs_grpc"] = {
        name: {"metric": "messages_per_s",
               "fraction": p["messages_per_s"] / grpc["phases"][name]["messages_per_s"]
               if grpc["phases"][name]["messages_per_s"] else None}
        for name, p in sqs["phases"].items() if name in grpc["phases"]}
    return report


def render_protocols(report: dict[str, Any], console: Console) -> None:
    """The SQS / gRPC table of a run of both protocols (nothing for one protocol)."""
    ratios = report.get("sqs_vs_grpc")
    if not ratios:
        return
    table = Table(title="SQS JSON over HTTP / gRPC, same run", title_justify="left")
    for col in ("phase", "gRPC msg/s", "SQS msg/s", "SQS / gRPC"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for name, ratio in ratios.items():
        fraction = ratio["fraction"]
        table.add_row(name, f"{report['phases'][name]['messages_per_s']:,.0f}",
                      f"{report['phases'][SQS + name]['messages_per_s']:,.0f}",
                      "-" if fraction is None else f"{fraction:.2f}x")
    console.print(table)
