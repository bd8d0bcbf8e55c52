"""A queue of millions of messages on one node: memory, restart time and snapshot time
(the figures of docs/benchmarks.md, "A queue of 5 million messages").

    .venv/bin/python bench/big_queue.py fill DIR [--count 5000000] [--size 1024]
    .venv/bin/python bench/big_queue.py restart DIR
    .venv/bin/python bench/big_queue.py snapshot DIR

`fill` starts `engine serve --data DIR` on a free loopback port, sends COUNT messages of
SIZE bytes to queue "big" with SendMessageBatch (10 per call, 16 calls in flight), and
samples the server's RSS every second, split into anonymous memory (the process's own)
and file pages (LMDB's memory map: page cache, which the kernel reclaims when it needs
the memory). With `--memory-limit BYTES` (root, cgroup v1 memory controller) the server
runs in a memory cgroup of that size: file pages are then reclaimed to stay under it.
`restart` starts the server on DIR again (after a clean stop and after kill -9) and
times it from exec to health SERVING, then reads the queue's message count. `snapshot`
(server stopped) copies DIR's consensus store once, then in this process makes the queue
group three members (the store, its copy and an empty one, over the real TCP transport)
and times the empty member's snapshot transfer and install, while calls go on through
the other two; the longest call during the transfer shows whether the log paused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.client import signed_channels
from engine.clock import SystemClock
from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.consensus.machine import Keyspace, ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore
from engine.cluster.consensus.transport import RaftListener, RaftSender
from engine.queues.partition.machine import PartitionMachine
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

QUEUE = "big"
SECRET = "big-queue-bench-secret"
MAP_SIZE = 64 << 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


CGROUP = Path("/sys/fs/cgroup/memory/engine-big-queue")


def memory_cgroup(limit: int) -> Path:
    CGROUP.mkdir(exist_ok=True)
    (CGROUP / "memory.limit_in_bytes").write_text(str(limit))
    (CGROUP / "memory.max_usage_in_bytes").write_text("0")  # reset the peak
    return CGROUP


class Server:
    def __init__(self, data: Path, cgroup: Path | None = None) -> None:
        self.data = data
        self.cgroup = cgroup
        self.endpoint = f"127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Seconds from exec to SERVING."""
        log = open(self.data.parent / "server.log", "ab")  # noqa: SIM115
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--data", str(self.data),
             "--listen", self.endpoint], stdout=log, stderr=subprocess.STDOUT)
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(str(self.proc.pid))
        with grpc.insecure_channel(self.endpoint) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"engine serve exited with {self.proc.returncode}")
                with contextlib.suppress(grpc.RpcError):
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.monotonic() - began
                time.sleep(0.01)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(60)

    def rss(self) -> int:
        assert self.proc is not None
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def rss_split(self) -> tuple[int, int]:
        """(anonymous, file-backed) resident bytes."""
        assert self.proc is not None
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) * 1024
        return fields["RssAnon"], fields["RssFile"]

    def cgroup_peak(self) -> int | None:
        if self.cgroup is None:
            return None
        return int((self.cgroup / "memory.max_usage_in_bytes").read_text())


async def count(endpoint: str) -> int:
    async with signed_channels.aio_insecure_channel(endpoint) as ch:
        stub = queues_pb2_grpc.QueuesStub(ch)
        url = (await stub.GetQueueUrl(pb.GetQueueUrlRequest(queue_name=QUEUE))).queue_url
        reply = await stub.GetQueueAttributes(pb.GetQueueAttributesRequest(
            queue_url=url, attribute_names=["ApproximateNumberOfMessages"]))
        return int(reply.attributes["ApproximateNumberOfMessages"])


async def fill(server: Server, total: int, size: int, concurrency: int) -> None:
    peak = peak_anon = 0
    sent = 0
    began = time.monotonic()

    def sample() -> str:
        nonlocal peak, peak_anon
        anon, file = server.rss_split()
        peak, peak_anon = max(peak, anon + file), max(peak_anon, anon)
        group = server.cgroup_peak()
        return (f"rss {(anon + file) / 2**20:6.0f} MiB (anon {anon / 2**20:4.0f}, file "
                f"{file / 2**20:5.0f}); peak rss {peak / 2**20:6.0f}, peak anon "
                f"{peak_anon / 2**20:4.0f} MiB"
                + ("" if group is None else f"; cgroup peak {group / 2**20:.0f} MiB"))

    async with signed_channels.aio_insecure_channel(server.endpoint) as ch:
        stub = queues_pb2_grpc.QueuesStub(ch)
        url = (await stub.CreateQueue(pb.CreateQueueRequest(queue_name=QUEUE))).queue_url
        request = pb.SendMessageBatchRequest(queue_url=url, entries=[
            pb.SendMessageBatchRequestEntry(id=str(j), message_body="x" * size)
            for j in range(10)])

        async def sender() -> None:
            nonlocal sent
            while sent < total:
                sent += 10
                await stub.SendMessageBatch(request, timeout=60)

        async def sampler() -> None:
            shown = 0
            while True:
                line = sample()
                elapsed = time.monotonic() - began
                if elapsed - shown >= 60:
                    shown = int(elapsed)
                    print(f"{elapsed:6.0f} s {sent:>10,} sent {sent / elapsed:6.0f}/s  {line}",
                          flush=True)
                await asyncio.sleep(1)

        sampling = asyncio.ensure_future(sampler())
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        sampling.cancel()
    elapsed = time.monotonic() - began
    print(f"filled: {sent:,} messages of {size} B in {elapsed:.0f} s ({sent / elapsed:.0f}/s); "
          f"{sample()}; data on disk {du(server.data) / 2**30:.1f} GiB; "
          f"queue holds {await count(server.endpoint):,}", flush=True)


def restart(data: Path, cgroup: Path | None) -> None:
    for how, sig in (("clean stop", signal.SIGTERM), ("kill -9", signal.SIGKILL)):
        server = Server(data, cgroup)
        first = server.start()
        held = asyncio.run(count(server.endpoint))
        server.stop(sig)
        again = Server(data, cgroup)
        seconds = again.start()
        anon, file = again.rss_split()
        print(f"after a {how}: SERVING {seconds:.2f} s after exec (the start before it: "
              f"{first:.2f} s); queue holds {asyncio.run(count(again.endpoint)):,} "
              f"(before: {held:,}); RSS {(anon + file) / 2**20:.0f} MiB (anon "
              f"{anon / 2**20:.0f})", flush=True)
        again.stop()


def _anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


class Notes(ReplicatedStateMachine):
    """Calls made during the transfer (the queue's own machine needs its commands)."""

    name = "notes"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        keys.put(b"%020d" % index, command)
        return b""


async def snapshot(data: Path) -> None:
    source = data / "consensus"
    work = data.parent / "snapshot-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    began = time.monotonic()
    shutil.copytree(source, work / "copy")
    print(f"copied the store ({du(source) / 2**30:.1f} GiB) in {time.monotonic() - began:.0f} s")
    stores = {"node-1": source, "copy": work / "copy", "empty": work / "empty"}
    addresses = {n: f"127.0.0.1:{free_port()}" for n in stores}
    hosts: dict[str, ConsensusHost] = {}
    groups: dict[str, ConsensusGroup] = {}
    parts: list[RaftListener | RaftSender] = []
    for node, path in stores.items():
        host = ConsensusHost(node, ConsensusStore(path, MAP_SIZE), SystemClock())
        groups[node] = host.add_group("q0", list(stores), [PartitionMachine(), Notes()])
        listener = RaftListener(addresses[node], SECRET, host.receive)
        await listener.start()
        host.transport = RaftSender(node, SECRET, addresses.__getitem__, lambda peer: 0.0)
        parts += [listener, host.transport]
        await host.start()
        hosts[node] = host
    target = groups["node-1"].applied
    groups["node-1"].core.campaign()  # the full stores lead; the empty one catches up
    while not any(g.is_leader for g in groups.values()):
        await asyncio.sleep(0.01)
    leader = next(g for g in groups.values() if g.is_leader)
    calls: list[float] = []
    stop = False

    async def caller() -> None:
        n = 0
        while not stop:
            t = time.perf_counter()
            await leader.call("notes", b"call %d" % n)
            calls.append(time.perf_counter() - t)
            n += 1

    proc = psutil.Process(os.getpid())
    peak = proc.memory_info().rss
    peak_anon = 0
    began = time.monotonic()
    callers = [asyncio.ensure_future(caller()) for _ in range(4)]
    empty = groups["empty"]
    while empty.applied < target:
        peak = max(peak, proc.memory_info().rss)
        peak_anon = max(peak_anon, _anon())
        await asyncio.sleep(0.05)
    took = time.monotonic() - began
    stop = True
    await asyncio.gather(*callers)
    calls.sort()
    print(f"snapshot of {target:,} applied entries ({du(source) / 2**30:.1f} GiB store): "
          f"the empty member caught up in {took:.1f} s; {len(calls)} calls meanwhile, "
          f"p50 {calls[len(calls) // 2] * 1000:.1f} ms, longest {calls[-1] * 1000:.0f} ms; "
          f"process RSS peak {peak / 2**20:.0f} MiB (anon {peak_anon / 2**20:.0f}; three "
          f"stores mapped in this one process); "
          f"installed store {du(work / 'empty') / 2**30:.1f} GiB")
    for part in parts:
        await part.close()
    for host in hosts.values():
        await host.close()
    shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("fill", "restart", "snapshot"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--count", type=int, default=5_000_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--memory-limit", type=int, default=0,
                        help="run the server in a memory cgroup of this many bytes")
    args = parser.parse_args()
    data = args.dir.resolve() / "data"
    if args.step == "fill":
        shutil.rmtree(args.dir, ignore_errors=True)
        data.mkdir(parents=True)
        cgroup = memory_cgroup(args.memory_limit) if args.memory_limit else None
        server = Server(data, cgroup)
        print(f"SERVING {server.start():.2f} s after exec (empty)", flush=True)
        try:
            asyncio.run(fill(server, args.count, args.size, args.concurrency))
        finally:
            server.stop()
    elif args.step == "restart":
        restart(data, memory_cgroup(args.memory_limit) if args.memory_limit else None)
    else:
        asyncio.run(snapshot(data))


if __name__ == "__main__":
    main()
