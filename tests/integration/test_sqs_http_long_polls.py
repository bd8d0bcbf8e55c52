"""1,000 concurrent long polls over HTTP on one node (issue 17, "Long polling over HTTP"):
ReceiveMessage with WaitTimeSeconds=20 on an empty queue, SQS's JSON protocol, one
aiohttp session holding a connection per poll, requests signed by botocore's SigV4.

While all 1,000 wait, a SendMessage (to another queue) and a GetQueueAttributes are
answered within FAST_S, and the node has no more threads than before the polls; a message
sent to the polled queue then wakes exactly one waiter; 999 more end the other waits, one
message each, so the test takes seconds, not the 20 s wait.

FAST_S: unloaded, either call takes a few ms here (one fsynced write, one read). A node
that parked waiters on threads or a worker pool, or queued calls behind them, answers
after a wait ends: 20 s. One second tells the two apart with room for a busy shared
machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET

POLLS = 1000
WAIT_S = 20  # SQS's longest wait: what a poll would take if nothing woke it
FAST_S = 1.0  # see the module docstring
MAX_CONNECTIONS = POLLS + 100  # the node's cap: every poll plus the session's other calls
THREAD_SLACK = 4  # threads an executor may start lazily; a thread per waiter is +1000
QUIET_TICKS = 2  # the node at rest: at most this many CPU ticks over QUIET_WINDOW_S
QUIET_WINDOW_S = 0.2
SETTLE_TIMEOUT_S = 60.0


class Sqs:
    """SQS's JSON protocol on one aiohttp session, signed as botocore signs it."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url + "/"
        self.auth = SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "sqs", REGION)

    async def call(self, operation: str, document: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(document).encode()
        request = AWSRequest(method="POST", url=self.url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{operation}"})
        self.auth.add_auth(request)
        async with self.session.post(self.url, data=body, headers=dict(request.headers),
                                     timeout=aiohttp.ClientTimeout(total=WAIT_S + 30)
                                     ) as response:
            answer = await response.json(content_type=None)
            assert response.status == 200, (operation, response.status, answer)
            return answer

    async def timed(self, operation: str, document: dict[str, Any]
                    ) -> tuple[float, dict[str, Any]]:
        start = time.monotonic()
        answer = await self.call(operation, document)
        return time.monotonic() - start, answer


@dataclass
class Poll:
    started: float
    ended: float = 0.0
    bodies: list[str] = field(default_factory=list)


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def settled(pid: int, sent: asyncio.Event) -> None:
    """Every poll's request is written and the node has gone quiet: it has taken them in
    and holds them parked (a waiter costs no CPU). Polls /proc, not a fixed sleep."""
    await asyncio.wait_for(sent.wait(), SETTLE_TIMEOUT_S)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    before = cpu_ticks(pid)
    while True:
        await asyncio.sleep(QUIET_WINDOW_S)
        now = cpu_ticks(pid)
        if now - before <= QUIET_TICKS:
            return
        assert time.monotonic() < deadline, "the node never went quiet under the polls"
        before = now


async def scenario(http_url: str, pid: int) -> None:
    written = 0
    all_written = asyncio.Event()

    async def on_sent(_s: Any, _c: Any, params: aiohttp.TraceRequestChunkSentParams) -> None:
        nonlocal written
        if b"WaitTimeSeconds" in params.chunk:
            written += 1
            if written == POLLS:
                all_written.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_sent)
    connector = aiohttp.TCPConnector(limit=POLLS + 10)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
        sqs = Sqs(session, http_url)
        polled = (await sqs.call("CreateQueue", {"QueueName": "polled"}))["QueueUrl"]
        other = (await sqs.call("CreateQueue", {"QueueName": "other"}))["QueueUrl"]
        # every kind of call once before counting threads (executors start lazily)
        await sqs.call("SendMessage", {"QueueUrl": other, "MessageBody": "warm"})
        await sqs.call("ReceiveMessage", {"QueueUrl": other, "WaitTimeSeconds": 0})
        idle_send, _ = await sqs.timed("SendMessage", {"QueueUrl": other,
                                                       "MessageBody": "idle"})
        threads_before = threads(pid)

        loop = asyncio.get_running_loop()

        async def poll() -> Poll:
            p = Poll(loop.time())
            answer = await sqs.call("ReceiveMessage", {
                "QueueUrl": polled, "WaitTimeSeconds": WAIT_S, "MaxNumberOfMessages": 1})
            p.ended = loop.time()
            p.bodies = [m["Body"] for m in answer.get("Messages", [])]
            return p

        polls = [asyncio.create_task(poll()) for _ in range(POLLS)]
        try:
            await settled(pid, all_written)
            assert not any(t.done() for t in polls), "a poll ended with nothing to end it"
            threads_during = threads(pid)
            send_s, _ = await sqs.timed("SendMessage", {"QueueUrl": other,
                                                        "MessageBody": "meanwhile"})
            attrs_s, attrs = await sqs.timed("GetQueueAttributes", {
                "QueueUrl": polled, "AttributeNames": ["ApproximateNumberOfMessages"]})
            assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
            assert send_s < FAST_S and attrs_s < FAST_S, (send_s, attrs_s, idle_send)
            assert threads_during <= threads_before + THREAD_SLACK, \
                (threads_before, threads_during)

            # one message wakes one waiter; the rest keep waiting
            sent_at = loop.time()
            await sqs.call("SendMessage", {"QueueUrl": polled, "MessageBody": "first"})
            done, _ = await asyncio.wait(polls, timeout=WAIT_S / 2,
                                         return_when=asyncio.FIRST_COMPLETED)
            assert len(done) == 1, f"{len(done)} polls ended on one message"
            first = done.pop().result()
            assert first.bodies == ["first"] and first.ended - sent_at < FAST_S
            await sqs.call("GetQueueAttributes", {"QueueUrl": polled})  # a round trip more
            assert sum(t.done() for t in polls) == 1

            # 999 more end the other waits, one message each
            bodies = [f"m{i}" for i in range(POLLS - 1)]
            for n in range(0, len(bodies), 10):
                answer = await sqs.call("SendMessageBatch", {"QueueUrl": polled, "Entries": [
                    {"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[n:n + 10])]})
                assert not answer.get("Failed"), answer
            results = await asyncio.wait_for(asyncio.gather(*polls), WAIT_S)
        finally:
            for t in polls:
                t.cancel()
    received = sorted(b for p in results for b in p.bodies)
    assert received == sorted(["first", *bodies])  # each once, no poll empty-handed
    assert all(p.ended - p.started < WAIT_S for p in results)  # woken, not timed out


@pytest.mark.slow
def test_a_thousand_long_polls_over_http(server_factory):
    server = server_factory("--http-max-connections", str(MAX_CONNECTIONS)).start()
    asyncio.run(scenario(server.http_url, server.pid))
