"""The per-RPC metric families of one node, and cheap handles to their children.

prometheus-client's ``labels()`` takes a lock and builds a key on every call; the
interceptor instead asks here once per (method, code) and keeps the child, so recording
a call is a few attribute lookups and two locked additions.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds. Sub-millisecond buckets because a unary call on loopback takes ~0.2 ms; the
# top ones because long polls (20 s) and large streams take that long.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 25.0, 60.0)


def split_method(full: str) -> tuple[str, str]:
    """'/engine.v1.ObjectStore/PutObject' -> ('engine.v1.ObjectStore', 'PutObject')."""
    service, _, method = full.lstrip("/").rpartition("/")
    return service, method


class RpcMetrics:
    """Requests, latency and bytes per RPC served by this node."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("service", "method")
        self.requests = Counter(
            "engine_rpc_requests", "RPCs served, by method and final gRPC status code",
            (*labels, "code"), registry=registry)
        self.duration = Histogram(
            "engine_rpc_duration_seconds", "Time from handler start to the final status",
            labels, buckets=LATENCY_BUCKETS, registry=registry)
        self.received = Counter(
            "engine_rpc_received_bytes", "Request message bytes (protobuf ByteSize), "
            "every message of a client stream included", labels, registry=registry)
        self.sent = Counter(
            "engine_rpc_sent_bytes", "Response message bytes (protobuf ByteSize), "
            "every message of a server stream included", labels, registry=registry)


class MethodMetrics:
    """The children of one method, resolved once; the code counter is per code seen."""

    __slots__ = ("_codes", "_metrics", "duration", "method", "received", "sent", "service")

    def __init__(self, metrics: RpcMetrics, full_method: str) -> None:
        self.service, self.method = split_method(full_method)
        self._metrics = metrics
        self.duration = metrics.duration.labels(self.service, self.method)
        self.received = metrics.received.labels(self.service, self.method)
        self.sent = metrics.sent.labels(self.service, self.method)
        self._codes: dict[str, Counter] = {}

    def record(self, code: str, seconds: float, received: int, sent: int) -> None:
        counter = self._codes.get(code)
        if counter is None:
            counter = self._codes[code] = self._metrics.requests.labels(
                self.service, self.method, code)
        counter.inc()
        self.duration.observe(seconds)
        if received:
            self.received.inc(received)
        if sent:
            self.sent.inc(sent)
