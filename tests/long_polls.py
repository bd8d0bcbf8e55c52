"""Many concurrent long polls against real nodes, over raw grpc.aio stubs in one process.

`run_polls` opens `count` ReceiveMessage calls at once (WaitTimeSeconds `wait`) spread over
the endpoints, sends `messages` messages through the first endpoint once every poll is in
flight, and returns how each poll ended: the messages it got, or the gRPC error it failed
with. Shared by the single-node and the cluster test.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc

from engine.client import signed_channels
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc


@dataclass
class PollResults:
    received: list[str] = field(default_factory=list)  # bodies, over all polls
    with_messages: int = 0
    empty: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return self.with_messages + self.empty


async def run_polls(endpoints: list[str], count: int, wait: int, messages: int,
                    queue: str = "long-polls") -> PollResults:
    channels = [signed_channels.aio_insecure_channel(e) for e in endpoints]
    stubs = [queues_pb2_grpc.QueuesStub(c) for c in channels]
    try:
        url = (await stubs[0].CreateQueue(pb.CreateQueueRequest(queue_name=queue),
                                          timeout=30)).queue_url
        out = PollResults()
        loop = asyncio.get_running_loop()

        async def poll(i: int) -> None:
            start = loop.time()
            try:
                reply = await stubs[i % len(stubs)].ReceiveMessage(
                    pb.ReceiveMessageRequest(queue_url=url, max_number_of_messages=10,
                                             wait_time_seconds=wait),
                    timeout=wait + 15)
            except grpc.aio.AioRpcError as exc:
                out.errors.append(f"{exc.code().name}: {exc.details()}")
                return
            finally:
                out.seconds.append(loop.time() - start)
            if reply.messages:
                out.received.extend(m.body for m in reply.messages)
                out.with_messages += 1
            else:
                out.empty += 1

        polls = [asyncio.ensure_future(poll(i)) for i in range(count)]
        await asyncio.sleep(1.0)  # every poll is waiting by now
        for n in range(0, messages, 10):
            await stubs[0].SendMessageBatch(pb.SendMessageBatchRequest(
                queue_url=url, entries=[
                    pb.SendMessageBatchRequestEntry(id=str(j), message_body=f"m{n + j}")
                    for j in range(min(10, messages - n))]), timeout=30)
        await asyncio.gather(*polls)
        return out
    finally:
        for c in channels:
            await c.close()
