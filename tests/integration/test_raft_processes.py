"""The Raft bucket table across real processes, including kill -9 of the leader.

Each node is a `python -c` child running one RaftBucketTable and answering JSON
commands on stdin/stdout, so the nodes share nothing but the network.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SECRET = "process-test-cluster-secret-9876543210"

NODE_SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from engine.clock import SystemClock
from engine.cluster.raft_buckets import RaftBucketTable
from engine.errors import EngineError
from engine.v1.records_pb2 import BucketRecord

me, peers, secret, state = sys.argv[1], sys.argv[2].split(","), sys.argv[3], Path(sys.argv[4])

def reply(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()

async def main():
    table = RaftBucketTable(me, peers, secret, state, clock=SystemClock(), timeout=10.0)
    reply(started=True)
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            cmd = json.loads(line)
            op, name = cmd["op"], cmd.get("name", "")
            try:
                if op == "quit":
                    return
                if op == "ready":
                    await table.wait_ready(cmd["seconds"])
                    result = True
                elif op == "create":
                    result = await table.create(BucketRecord(name=name, region=cmd["region"]))
                elif op == "get":
                    got = await table.get(name)
                    result = None if got is None else got.region
                elif op == "delete":
                    result = await table.delete(name)
                elif op == "list":
                    result = [r.name for r in await table.list()]
                elif op == "leader":
                    result = {"leader": table.leader, "is_leader": table.is_leader}
                reply(result=result)
            except EngineError as exc:
                reply(error=exc.code)
    finally:
        table.close()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    """One child process; replies are read by a thread so every wait has a deadline."""

    def __init__(self, address: str, peers: list[str], state_dir: Path, log: Path) -> None:
        self.address = address
        self.peers = peers
        self.state_dir = state_dir
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def start(self) -> NodeProcess:
        with open(self.log, "a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", NODE_SCRIPT, self.address, ",".join(self.peers),
                 SECRET, str(self.state_dir)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
            )
        self._replies = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self._replies), daemon=True).start()
        assert self.wait_reply(30) == {"started": True}
        return self

    @staticmethod
    def _read(proc: subprocess.Popen[str], replies: queue.Queue[dict[str, Any] | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            replies.put(json.loads(line))
        replies.put(None)

    def send(self, op: str, **args: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def wait_reply(self, timeout: float = 30) -> dict[str, Any]:
        reply = self._replies.get(timeout=timeout)
        if reply is None:
            raise AssertionError(f"{self.address} exited; see {self.log}")
        return reply

    def call(self, op: str, timeout: float = 30, **args: Any) -> Any:
        self.send(op, **args)
        reply = self.wait_reply(timeout)
        assert "error" not in reply, (self.address, op, args, reply)
        return reply["result"]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def quit(self, timeout: float = 10) -> int:
        """Ask the node to close; it must exit (no pysyncobj thread keeps it alive)."""
        assert self.proc is not None
        self.send("quit")
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    made = [
        NodeProcess(a, addresses, tmp_path / f"node{i}", tmp_path / f"node{i}.log")
        for i, a in enumerate(addresses)
    ]
    try:
        for n in made:
            n.start()
        yield made
    finally:
        for n in made:
            n.kill()


def test_bucket_table_across_processes_survives_kill9_of_the_leader(
    nodes: list[NodeProcess],
) -> None:
    for n in nodes:
        n.send("ready", seconds=30)
    for n in nodes:
        assert n.wait_reply(40) == {"result": True}

    # Created on one process, visible on the others at once.
    assert nodes[0].call("create", name="proc-one", region="r0") is True
    for n in nodes[1:]:
        assert n.call("get", name="proc-one") == "r0"

    # Concurrent creations of one name on two processes: exactly one wins.
    for i in range(5):
        name = f"proc-race-{i}"
        nodes[1].send("create", name=name, region="r1")
        nodes[2].send("create", name=name, region="r2")
        r1, r2 = nodes[1].wait_reply()["result"], nodes[2].wait_reply()["result"]
        assert sorted([r1, r2]) == [False, True], (name, r1, r2)
        assert nodes[0].call("get", name=name) == ("r1" if r1 else "r2")

    # kill -9 the leader; the two survivors elect another and go on.
    views = [n.call("leader") for n in nodes]
    leader = next(i for i, v in enumerate(views) if v["is_leader"])
    assert {v["leader"] for v in views} == {nodes[leader].address}
    nodes[leader].kill9()
    survivors = [n for i, n in enumerate(nodes) if i != leader]
    for i, n in enumerate(survivors):
        assert n.call("create", name=f"after-kill-{i}", region="rk") is True
    for n in survivors:
        listed = n.call("list")
        assert {"proc-one", "after-kill-0", "after-kill-1"} <= set(listed)
        assert {f"proc-race-{i}" for i in range(5)} <= set(listed)
    assert survivors[0].call("delete", name="proc-one") is True

    # The killed process restarts from its state dir and has the whole table.
    nodes[leader].start()
    assert nodes[leader].call("ready", timeout=40, seconds=30) is True
    assert nodes[leader].call("list") == survivors[1].call("list")
    assert nodes[leader].call("get", name="proc-one") is None

    # kill -9 every process at once and restart them all: the table comes from disk only.
    expected = survivors[1].call("list")
    for n in nodes:
        n.kill9()
    for n in nodes:
        n.start()
        n.send("ready", seconds=30)
    for n in nodes:
        assert n.wait_reply(40) == {"result": True}
    for n in nodes:
        assert n.call("list") == expected

    # Asked to stop, every process exits on its own.
    for n in nodes:
        assert n.quit() == 0
