"""Free loopback ports for tests (a module, not a conftest: several conftest.py files
share that module name, so importing from one is ambiguous)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
