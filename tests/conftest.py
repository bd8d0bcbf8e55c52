"""Fixtures shared by every test layer: free ports and real `engine serve` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from credentials import use_test_credentials
from health import wait_healthy
from ports import free_port

use_test_credentials()
# awscrt (the engine's CRC64NVME) switches botocore to its CRT signer, which reads the
# real clock and orders presigned parameters its own way; the tests compare signatures
# with botocore's Python signer, as a client without awscrt signs.
os.environ.setdefault("BOTO_DISABLE_CRT", "true")


@dataclass
class ServerProcess:
    """An `engine serve` subprocess on a loopback port, restartable on the same data."""

    data_dir: Path
    port: int
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    http_port: int = 0  # the S3 REST endpoint; 0: left to `engine serve`'s default
    redis_port: int = 0  # the RESP endpoint; 0: off (never the shared default 6379)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """The S3 REST endpoint, for boto3's endpoint_url (root credentials: the
        environment's, see credentials.py)."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        http = ["--http-listen", f"127.0.0.1:{self.http_port}"] if self.http_port else []
        redis = ["--redis-listen", f"127.0.0.1:{self.redis_port}" if self.redis_port else "off"]
        cmd = [sys.executable, "-m", "engine", "serve", "--data", str(self.data_dir),
               "--listen", self.endpoint, *http, *redis, *self.extra_args]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        log.close()
        wait_healthy(self.endpoint, timeout, self.proc)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    """Make servers on fresh data dirs; every one started is stopped afterwards."""
    started: list[ServerProcess] = []

    class Factory(ServerProcess):
        def start(self, timeout: float = 30.0) -> ServerProcess:
            started.append(self)
            return super().start(timeout)

    def make(*extra: str, data_dir: Path | None = None) -> ServerProcess:
        d = data_dir or tmp_path / f"data-{len(started)}"
        d.mkdir(parents=True, exist_ok=True)
        return Factory(data_dir=d, port=free_port(), extra_args=extra, http_port=free_port(),
                       redis_port=free_port())

    yield make  # type: ignore[misc]
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


@pytest.fixture
def server(server_factory) -> ServerProcess:
    """One running single-node server on a fresh data directory."""
    return server_factory().start()


@pytest.fixture(scope="session")
def run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the whole run, for the modules that share it (see shared_server)."""
    d = tmp_path_factory.mktemp("run") / "data"
    d.mkdir()
    s = ServerProcess(data_dir=d, port=free_port(), http_port=free_port(),
                      redis_port=free_port()).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                  ) -> Iterator[ServerProcess]:
    """One server for a whole module, for tests that only need isolation by bucket name.

    A module whose tests name all they create uniquely (buckets, queues, users) and change
    no account-wide setting says `SHARES_RUN_SERVER = True` and gets `run_server`, one
    server for all such modules: a start costs 1.5-3 s, and some 35 modules opt in."""
    if getattr(request.module, "SHARES_RUN_SERVER", False):
        yield request.getfixturevalue("run_server")
        return
    d = tmp_path_factory.mktemp("shared") / "data"
    d.mkdir()
    s = ServerProcess(data_dir=d, port=free_port(), http_port=free_port(),
                      redis_port=free_port()).start()
    yield s
    s.stop()
    if os.environ.get("ENGINE_KEEP_DATA") is None and s.proc is not None:
        s.proc.wait(5)


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with the flags a module needs, shared by its tests; every one
    started is stopped after the module."""
    started: list[ServerProcess] = []

    def make(*extra: str) -> ServerProcess:
        d = tmp_path_factory.mktemp("module") / "data"
        d.mkdir()
        server = ServerProcess(data_dir=d, port=free_port(), http_port=free_port(),
                               redis_port=free_port(), extra_args=extra)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()
