"""The SQS endpoint (the node's HTTP port) beside moto's SQS server, on this machine.

Starts one `engine serve` (auth on, a throwaway root key) and one `moto_server`, each on
a free loopback port, then alternates rounds between them (which goes first alternates
too). A round, on a fresh standard queue per server and client mode, times three phases
of ``--duration`` seconds from ``--threads`` concurrent workers: SendMessageBatch of 10,
ReceiveMessage of up to 10 (short polls, WaitTimeSeconds=0; the queue's 12 h
VisibilityTimeout keeps the handles valid) and DeleteMessageBatch of 10 with those
handles. Between phases the queue is stocked untimed, as `engine bench queues` does, so
that a phase does not run dry: messages for twice the send rate before receive, handles
for 1.5x the receive rate before delete. A phase that still runs dry ends early and is
marked "dry"; its rate is over the time it ran.

The phases measure a deep queue (what stocking puts there); a fourth, ``cycle``, a
shallow one: on another fresh queue each worker sends a batch, receives up to 10 and
deletes what it received, over and over, and its rate counts the messages deleted. It
matters for moto, which computes the queue's attributes, a scan of every message, once
per message it sends or receives, so its rates fall with the queue's depth (printed as
"of N" beside receive).

Two client modes, both against both servers:

- ``boto3``: one client per thread, as boto3 advises; what issue 17 names ("moto's
  server through boto3"). boto3 spends about a millisecond of this process's CPU per
  call, which bounds what either server can show on a small machine;
- ``aiohttp``: the bench's own SQS JSON client (engine/bench/sqs_http.py), coroutines on
  one connection pool, so the client is not the bottleneck. moto 5.x serves SQS's JSON
  protocol (``X-Amz-Target``) and takes any signature, so the same client talks to both.

Printed: messages/s per phase, server and mode, the engine/moto ratio of the medians over
the rounds, and the CPU seconds each server process (/proc/PID/stat) and this client
process spent in each timed phase, so a reader sees which side the time went to.

    python bench/sqs_vs_moto.py --rounds 3 --duration 6
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3_vs_moto import free_port, wait_http

from engine.bench.sqs_http import SqsError, SqsTarget

HERE = Path(__file__).resolve().parent.parent
ROOT_KEY = "AKIABENCHSQSMOTO0001"
ROOT_SECRET = "bench-sqs-moto-secret-0123456789abcdefghij"
REGION = "us-east-1"
BATCH = 10
BODY = "x" * 100  # the queue bench's default message size
VISIBILITY_S = "43200"  # SQS's maximum: handles from `receive` outlive the round
CYCLE = ("send-batch", "receive", "delete-batch")
PHASES = (*CYCLE, "cycle")
MODES = ("boto3", "aiohttp")
OPERATION = {"send-batch": "SendMessageBatch", "receive": "ReceiveMessage",
             "delete-batch": "DeleteMessageBatch"}
BOTO3_METHOD = {"SendMessageBatch": "send_message_batch", "ReceiveMessage": "receive_message",
                "DeleteMessageBatch": "delete_message_batch"}
RECEIVE_HEADROOM = 2.0  # receives may outrun the sends their stock is sized by
DELETE_HEADROOM = 1.5
STOCKING_LIMIT_S = 120.0  # untimed stocking gives up (and the phase may run dry) after this
READY_S = 60.0  # the node's queue group takes a few seconds to elect after the port opens
TICK = os.sysconf("SC_CLK_TCK")

Request = tuple[str, dict[str, Any]]  # an SQS operation and its JSON members


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (utime and stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Stock:
    """What the phases use up: messages in the queue (as counted by this client) and the
    receipt handles received and not yet deleted. Shared by every worker of a phase."""

    queued: int = 0
    handles: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, count: int) -> None:
        with self.lock:
            self.queued += count

    def received(self, handles: list[str]) -> None:
        with self.lock:
            self.queued -= len(handles)
            self.handles.extend(handles)

    def take(self) -> list[str]:
        with self.lock:
            batch = self.handles[-BATCH:]
            del self.handles[-BATCH:]
            return batch


@dataclass
class Tally:
    """One worker's calls in a phase."""

    messages: int = 0
    empty: int = 0  # receives that returned no message
    errors: int = 0
    dry: bool = False
    last_error: str = ""


@dataclass(frozen=True)
class Figures:
    """A timed phase on one server in one mode."""

    messages: int
    empty: int
    errors: int
    seconds: float
    server_cpu: float
    client_cpu: float
    dry: bool
    last_error: str
    depth: int  # messages in the queue when the phase began

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def request_for(phase: str, url: str, stock: Stock) -> Request | None:
    """The next call of a phase; None when its supply has run out."""
    if phase == "send-batch":
        return OPERATION[phase], {"QueueUrl": url, "Entries": [
            {"Id": str(i), "MessageBody": BODY} for i in range(BATCH)]}
    if phase == "receive":
        if stock.queued <= 0:
            return None
        return OPERATION[phase], {"QueueUrl": url, "MaxNumberOfMessages": BATCH,
                                  "WaitTimeSeconds": 0}
    handles = stock.take()
    if not handles:
        return None
    return OPERATION[phase], {"QueueUrl": url, "Entries": [
        {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]}


def steps(phase: str) -> tuple[str, ...]:
    """The calls of one iteration: `cycle` makes all three, each other phase its own."""
    return CYCLE if phase == "cycle" else (phase,)


def account(phase: str, step: str, reply: dict[str, Any], stock: Stock,
            tally: Tally) -> None:
    """Count a reply's messages (a batch's failed entries are errors) and move the stock.
    A cycle counts the messages it deleted: those that went all the way through."""
    counted = phase != "cycle" or step == "delete-batch"
    if step == "receive":
        handles = [m["ReceiptHandle"] for m in reply.get("Messages", ())]
        stock.received(handles)
        tally.messages += len(handles) if counted else 0
        tally.empty += not handles
        return
    done = len(reply.get("Successful", ()))
    failed = reply.get("Failed", ())
    tally.messages += done if counted else 0
    tally.errors += len(failed)
    if failed:
        tally.last_error = str(failed[0].get("Code", ""))
    if step == "send-batch":
        stock.sent(done)


def run_threads(clients: list[Any], phase: str, url: str, stock: Stock,
                done: Callable[[], bool]) -> list[Tally]:
    """Each boto3 client on a thread of its own, calling back to back until ``done``."""
    tallies = [Tally() for _ in clients]

    def work(c: Any, tally: Tally) -> None:
        while not done():
            for step in steps(phase):
                req = request_for(step, url, stock)
                if req is None:
                    if phase == "cycle":  # others took what this worker sent
                        continue
                    tally.dry = True
                    return
                try:
                    reply = getattr(c, BOTO3_METHOD[req[0]])(**req[1])
                except (ClientError, BotoCoreError) as exc:
                    tally.errors += 1
                    tally.last_error = str(exc)[:200]
                    continue
                account(phase, step, reply, stock, tally)

    workers = [threading.Thread(target=work, args=(c, t))
               for c, t in zip(clients, tallies, strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return tallies


async def run_tasks(target: SqsTarget, workers: int, phase: str, url: str, stock: Stock,
                    done: Callable[[], bool]) -> list[Tally]:
    """``workers`` coroutines on one SqsTarget, calling back to back until ``done``."""
    tallies = [Tally() for _ in range(workers)]

    async def work(tally: Tally) -> None:
        while not done():
            for step in steps(phase):
                req = request_for(step, url, stock)
                if req is None:
                    if phase == "cycle":  # others took what this worker sent
                        continue
                    tally.dry = True
                    return
                try:
                    reply = await target.call(*req)
                except SqsError as exc:
                    tally.errors += 1
                    tally.last_error = str(exc)[:200]
                    continue
                account(phase, step, reply, stock, tally)

    await asyncio.gather(*(work(t) for t in tallies))
    return tallies


def until(seconds: float) -> Callable[[], bool]:
    stop = time.monotonic() + seconds
    return lambda: time.monotonic() >= stop


@dataclass
class Server:
    name: str
    url: str
    pid: int
    target: SqsTarget  # the aiohttp client: timed calls in its mode, all the stocking
    clients: list[Any]  # boto3, one per thread


async def timed(server: Server, stock: Stock, run: Awaitable[list[Tally]]) -> Figures:
    """Run one phase; its wall time and the CPU both processes spent in it."""
    depth = stock.queued
    server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
    started = time.monotonic()
    tallies = await run
    seconds = time.monotonic() - started
    return Figures(messages=sum(t.messages for t in tallies),
                   empty=sum(t.empty for t in tallies),
                   errors=sum(t.errors for t in tallies), seconds=seconds,
                   server_cpu=cpu_seconds(server.pid) - server_cpu,
                   client_cpu=time.process_time() - client_cpu,
                   dry=any(t.dry for t in tallies),
                   last_error=next((t.last_error for t in tallies if t.last_error), ""),
                   depth=depth)


async def stock_up(server: Server, url: str, stock: Stock, messages: int, handles: int,
                   workers: int) -> None:
    """Untimed, with the fast client: at least ``messages`` in the queue, then at least
    ``handles`` receipt handles held."""
    give_up = until(STOCKING_LIMIT_S)
    need = messages + max(0, handles - len(stock.handles))
    if stock.queued < need:
        await run_tasks(server.target, workers, "send-batch", url, stock,
                        lambda: stock.queued >= need or give_up())
    if len(stock.handles) < handles:
        await run_tasks(server.target, workers, "receive", url, stock,
                        lambda: len(stock.handles) >= handles or give_up())


@contextlib.asynccontextmanager
async def fresh_queue(server: Server, name: str) -> AsyncIterator[str]:
    """A new standard queue's URL, the queue removed on leaving."""
    url = (await server.target.call("CreateQueue", {
        "QueueName": name, "Attributes": {"VisibilityTimeout": VISIBILITY_S}}))["QueueUrl"]
    try:
        yield url
    finally:
        await server.target.call("DeleteQueue", {"QueueUrl": url})


def timed_run(server: Server, mode: str, phase: str, url: str, stock: Stock,
              threads: int, duration: float) -> Awaitable[list[Tally]]:
    """One phase of ``duration`` seconds in a client mode."""
    if mode == "boto3":
        return asyncio.to_thread(run_threads, server.clients, phase, url, stock,
                                 until(duration))
    return run_tasks(server.target, threads, phase, url, stock, until(duration))


async def measure(server: Server, mode: str, name: str, threads: int,
                  duration: float) -> dict[str, Figures]:
    """The three phases on one fresh queue, stocked between them; the cycle on another,
    so that what they left behind does not weigh on it."""
    figures: dict[str, Figures] = {}
    async with fresh_queue(server, name) as url:
        stock = Stock()
        for phase in CYCLE:
            if phase == "receive":
                wanted = RECEIVE_HEADROOM * figures["send-batch"].rate * duration
                await stock_up(server, url, stock, math.ceil(wanted), 0, threads)
            elif phase == "delete-batch":
                wanted = DELETE_HEADROOM * figures["receive"].rate * duration
                await stock_up(server, url, stock, 0, math.ceil(wanted), threads)
            figures[phase] = await timed(server, stock, timed_run(
                server, mode, phase, url, stock, threads, duration))
    async with fresh_queue(server, name + "-cycle") as url:
        stock = Stock()
        figures["cycle"] = await timed(server, stock, timed_run(
            server, mode, "cycle", url, stock, threads, duration))
    return figures


async def wait_ready(server: Server) -> None:
    """Until the server creates and removes a queue (the node's groups have elected)."""
    give_up = until(READY_S)
    while True:
        try:
            reply = await server.target.call("CreateQueue", {"QueueName": "bench-ready"})
            await server.target.call("DeleteQueue", {"QueueUrl": reply["QueueUrl"]})
            return
        except SqsError:
            if give_up():
                raise
            await asyncio.sleep(0.2)


def boto3_client(url: str, threads: int) -> Any:
    return boto3.client("sqs", endpoint_url=url, region_name=REGION,
                        aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                        config=Config(retries={"max_attempts": 1},
                                      max_pool_connections=max(10, threads)))


def line(rnd: int, name: str, mode: str, figures: dict[str, Figures]) -> str:
    rates = "  ".join(f"{p} {f.rate:,.0f}/s"
                      + (f" (of {f.depth:,}, {f.empty} empty)" if p == "receive" else "")
                      + (" dry" if f.dry else "")
                      + (f" ({f.errors} errors: {f.last_error})" if f.errors else "")
                      for p, f in figures.items())
    cpu = " ".join(f"{f.server_cpu:.1f}/{f.client_cpu:.1f}/{f.seconds:.1f}"
                   for f in figures.values())
    return f"round {rnd} {name:6s} {mode:7s} {rates}  s CPU server/client, wall {cpu}"


def summary(results: dict[tuple[str, str], list[dict[str, Figures]]], modes: list[str],
            names: list[str]) -> str:
    """Medians over the rounds: messages/s, engine/moto, CPU s of server and client."""
    rows = [f"{'mode':7s} {'phase':12s} " + " ".join(f"{n + ' msg/s':>13s}" for n in names)
            + f" {'engine/moto':>11s} " + " ".join(f"{n + ' CPU s srv/cli':>22s}"
                                                    for n in names)]
    for mode in modes:
        for phase in PHASES:
            rate = {n: statistics.median(r[phase].rate for r in results[n, mode])
                    for n in names}
            cpu = {n: (statistics.median(r[phase].server_cpu for r in results[n, mode]),
                       statistics.median(r[phase].client_cpu for r in results[n, mode]))
                   for n in names}
            ratio = rate["engine"] / rate["moto"] if rate["moto"] else math.inf
            rows.append(f"{mode:7s} {phase:12s} "
                        + " ".join(f"{rate[n]:13,.0f}" for n in names)
                        + f" {ratio:10.1f}x "
                        + " ".join(f"{cpu[n][0]:14.1f} / {cpu[n][1]:5.1f}" for n in names))
    return "\n".join(rows)


async def run_all(args: argparse.Namespace, urls: dict[str, str],
                  pids: dict[str, int]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for name, url in urls.items():
            target = await stack.enter_async_context(SqsTarget(url, max(16, args.threads)))
            clients = [boto3_client(url, args.threads) for _ in range(args.threads)]
            servers.append(Server(name, url, pids[name], target, clients))
        for server in servers:
            await wait_ready(server)
        results: dict[tuple[str, str], list[dict[str, Figures]]] = {
            (s.name, m): [] for s in servers for m in args.modes}
        for rnd in range(args.rounds):
            for mode in args.modes:
                for server in servers if rnd % 2 == 0 else servers[::-1]:
                    figures = await measure(server, mode, f"bench-{rnd}-{mode}",
                                            args.threads, args.duration)
                    results[server.name, mode].append(figures)
                    print(line(rnd, server.name, mode, figures), flush=True)
        print(f"\nmedians of {args.rounds} rounds, {args.threads} workers, "
              f"{args.duration:g} s phases:")
        print(summary(results, args.modes, [s.name for s in servers]), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES),
                        help="client modes, comma-separated (default: boto3,aiohttp)")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    # a kill (a test's timeout) still runs the clean-up below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # the aiohttp client takes the SDK's credential chain; moto takes any key
    os.environ.update(AWS_ACCESS_KEY_ID=ROOT_KEY, AWS_SECRET_ACCESS_KEY=ROOT_SECRET,
                      AWS_REGION=REGION)
    scratch = Path(tempfile.mkdtemp(prefix="engine-sqs-moto-"))
    engine_port, moto_port, grpc_port = free_port(), free_port(), free_port()
    env = {**os.environ, "ENGINE_ROOT_ACCESS_KEY_ID": ROOT_KEY,
           "ENGINE_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    procs = {
        "engine": subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--data", str(scratch / "d"),
             "--listen", f"127.0.0.1:{grpc_port}", "--http-listen",
             f"127.0.0.1:{engine_port}", "--redis-listen", "off"], cwd=HERE, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "moto": subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
             "-p", str(moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    urls = {"engine": f"http://127.0.0.1:{engine_port}",
            "moto": f"http://127.0.0.1:{moto_port}"}
    try:
        for url in urls.values():
            wait_http(url)
        asyncio.run(run_all(args, urls, {n: p.pid for n, p in procs.items()}))
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
