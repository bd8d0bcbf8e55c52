"""Fixtures for the network nemesis tests: node identities, the Network over them, and
stand-in nodes (agent.py) running as those identities. Everything started is stopped and
the nft table removed whatever a test does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.chaos.network import Network, NodeIdentity, loopback_identities, nft_available

AGENT = Path(__file__).with_name("agent.py")
# Away from the launcher's defaults (127.0.0.2.., uid 61700..) so a leftover of one
# never looks like the other.
FIRST_HOST = 20
BASE_UID = 61720


def skip_without_network() -> None:
    reason = nft_available()
    if reason is not None:
        pytest.skip(reason)


class Agent:
    """One stand-in node: a listening socket on its address, connections on command."""

    def __init__(self, identity: NodeIdentity) -> None:
        self.identity = identity
        self.proc = subprocess.Popen(
            identity.command([sys.executable, str(AGENT), identity.host]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        first = self._line()
        assert first.startswith("port "), first
        self.port = int(first.split()[1])

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"agent {self.identity.name} exited ({self.proc.poll()})"
        return line.strip()

    def ask(self, *words: object) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        return self._line()

    def connect(self, name: str, other: Agent) -> bool:
        """A new connection to ``other``, named ``name``; whether it was established."""
        return self.ask("connect", name, other.identity.host, other.port) == "ok"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def identities() -> list[NodeIdentity]:
    return loopback_identities(["a", "b", "c"], first_host=FIRST_HOST, base_uid=BASE_UID)


@pytest.fixture
def net(identities: list[NodeIdentity]) -> Iterator[Network]:
    skip_without_network()
    with Network(identities) as network:
        yield network


@pytest.fixture
def agents(net: Network, identities: list[NodeIdentity]) -> Iterator[dict[str, Agent]]:
    started: dict[str, Agent] = {}
    try:
        for identity in identities:
            started[identity.name] = Agent(identity)
        yield started
    finally:
        for agent in started.values():
            agent.close()
