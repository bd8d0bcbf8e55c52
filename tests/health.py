"""Waiting for a node to serve: shared by the fixtures of every test layer.

A plain module (not a conftest) so that fixtures in sub-packages can import it by name;
`tests/` is on sys.path because tests/conftest.py is a rootdir conftest.
"""

from __future__ import annotations

import subprocess
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# A channel whose first connects are refused (the node is still importing) waits out gRPC's
# reconnect backoff (1 s, then 1.6x) before it tries again, so a node that came up just
# after a refusal was seen ~1 s late, on every start; retry the connect every 50-200 ms.
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 50),
                  ("grpc.min_reconnect_backoff_ms", 50),
                  ("grpc.max_reconnect_backoff_ms", 200))


def wait_healthy(endpoint: str, timeout: float, proc: subprocess.Popen[bytes] | None,
                 *, serving: bool = True,
                 credentials: grpc.ChannelCredentials | None = None) -> int:
    """Block until the node's gRPC health service answers SERVING (a node says so only
    once it can serve a quorum operation), or with ``serving=False`` until it answers at
    all; returns the status it answered. ``credentials``: a TLS port's."""
    deadline = time.monotonic() + timeout
    with (grpc.insecure_channel(endpoint, options=FAST_RECONNECT) if credentials is None
          else grpc.secure_channel(endpoint, credentials, options=FAST_RECONNECT)) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"engine serve exited with {proc.returncode}")
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if resp.status == health_pb2.HealthCheckResponse.SERVING or not serving:
                    return int(resp.status)
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{endpoint} not healthy after {timeout}s")
            time.sleep(0.05)
