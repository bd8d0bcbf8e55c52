"""A real redis-server to compare the engine with (the differential tests' reference).

One process per use, on a free loopback port, with no persistence; it is killed by its
pid afterwards. Tests skip when redis-server is not installed (the project's setup
installs it where the side-by-side runs need it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from ports import free_port

SERVER = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(SERVER is None, reason="redis-server is not installed")


@contextmanager
def reference_redis() -> Iterator[int]:
    """A running redis-server's port; the process is killed when the block ends."""
    if SERVER is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--protected-mode", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield port
    finally:
        proc.kill()
        proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(500):
        if proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)  # waiting for the process to listen, not for time
    raise AssertionError("redis-server did not start")
