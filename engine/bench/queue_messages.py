"""What the queue benches put on the server: their queues (names, attributes, clean-up)
and their messages (batches of 10, bodies of an exact size that start with the send
time). Shared by the queue workload, its per-process client and the mixed workload, so
every one of them sizes, stamps and removes things the same way."""

from __future__ import annotations

import asyncio
import secrets
import time

import grpc

from engine.bench.sqs_http import SqsError, SqsStub
from engine.bench.workload import error_code
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

BATCH = 10  # SQS's most entries per batch call and messages per receive
VISIBILITY_S = 43_200  # SQS's maximum: handles from `receive` outlive the run
MAX_BATCH_BYTES = 1024 * 1024  # the queue's default MaximumMessageSize bounds a whole batch
STAMP_WIDTH = 20  # time.time_ns() zero-padded at the start of every body
MIN_MESSAGE_SIZE = STAMP_WIDTH
MAX_MESSAGE_SIZE = MAX_BATCH_BYTES // BATCH
QUEUE_ATTRIBUTES = {"VisibilityTimeout": str(VISIBILITY_S)}
RETRY_FOR_S = 60.0  # untimed calls (stocking, clean-up) ride out unavailability this long


def new_queue_name(fifo: bool) -> str:
    return f"bench-{secrets.token_hex(4)}" + (".fifo" if fifo else "")


def pipeline_queue_name(name: str) -> str:
    base = name.removesuffix(".fifo")
    return f"{base}-pipe" + (".fifo" if name.endswith(".fifo") else "")


def check_message_size(size: int) -> None:
    if not MIN_MESSAGE_SIZE <= size <= MAX_MESSAGE_SIZE:
        raise ValueError(f"message size must be {MIN_MESSAGE_SIZE}-{MAX_MESSAGE_SIZE} bytes "
                         f"(room for the send time; ten fit in one batch), not {size}")


def stamped_body(size: int, now_ns: int | None = None) -> str:
    """A body of exactly `size` ASCII bytes starting with the send time in ns (wall
    clock: the receiving process may be another one)."""
    return f"{time.time_ns() if now_ns is None else now_ns:0{STAMP_WIDTH}d}".ljust(size, "x")


def sent_at(body: str) -> int:
    return int(body[:STAMP_WIDTH])


def unavailable(exc: grpc.aio.AioRpcError | SqsError) -> bool:
    """The server could not take the call now (gRPC UNAVAILABLE, HTTP 503), e.g. while
    its Raft group writes a snapshot: the same call may succeed later."""
    if isinstance(exc, SqsError):
        return exc.unavailable
    return exc.code() == grpc.StatusCode.UNAVAILABLE


async def delete_queue(stub: queues_pb2_grpc.QueuesStub | SqsStub, name: str) -> None:
    """Delete the queue `name` with whatever it still holds; one already gone is fine.
    Retried while the server is UNAVAILABLE: a bench queue left behind holds on to its
    messages, and a big one makes the server's snapshots slower for everyone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_FOR_S
    while True:
        try:
            url = (await stub.GetQueueUrl(pb.GetQueueUrlRequest(queue_name=name))).queue_url
            await stub.DeleteQueue(pb.DeleteQueueRequest(queue_url=url))
            return
        except (grpc.aio.AioRpcError, SqsError) as exc:
            if "NonExistentQueue" in error_code(exc):
                return
            if not unavailable(exc) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
