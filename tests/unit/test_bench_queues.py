"""The queue bench's own logic against an in-memory queue: phases, message counting,
stocking, pipeline roles and back-pressure, spreading over endpoints, report figures.

Phases run on a virtual clock (helpers_virtual_time): a fake call costs exactly its
delay and nothing else does, so what a phase gets through, and so how much stocking
from the rates seen provides, is the same on any machine under any load."""

from __future__ import annotations

import asyncio
import io
import pickle
import time

import grpc
import pytest
from helpers_virtual_time import run_virtual
from rich.console import Console

from engine.bench import queue_client as qc
from engine.bench import queue_messages as qm
from engine.bench import queue_report as qr
from engine.bench import queues as bq
from engine.bench.report import build_report, run_config
from engine.bench.runner import run_phase
from engine.bench.stats import PhaseStats
from engine.cli import build_parser
from engine.cli.bench import run_queues
from engine.v1 import queues_pb2 as pb

SIZE = 64
POLL_S = 0.02  # the fake's long poll, instead of WaitTimeSeconds


class FakeQueues:  # method names are the gRPC stub's
    """Just enough of the Queues stub: one visible list and in-flight handles per queue,
    `delay` of (virtual) time per call, long polls that wake on a send."""

    def __init__(self, fail_code: str = "", delay: float = 0.002) -> None:
        self.delay = delay
        self.visible: dict[str, list[str]] = {}
        self.in_flight: dict[str, str] = {}
        self.calls: dict[str, int] = {}
        self.max_depth = 0
        self.fail_code = fail_code
        self.deleted: list[str] = []
        self._handles = 0
        self._sent = asyncio.Event()

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def GetQueueUrl(self, request):
        self._call("GetQueueUrl")
        return pb.GetQueueUrlResponse(queue_url=f"http://fake/000000000000/{request.queue_name}")

    def _put(self, url: str, bodies: list[str]) -> None:
        q = self.visible.setdefault(url, [])
        q.extend(bodies)
        self.max_depth = max(self.max_depth, len(q))
        self._sent.set()

    async def DeleteQueue(self, request):
        self._call("DeleteQueue")
        self.visible.pop(request.queue_url, None)
        self.deleted.append(request.queue_url)
        return pb.DeleteQueueResponse()

    async def SendMessage(self, request):
        self._call("SendMessage")
        await asyncio.sleep(self.delay)
        self._put(request.queue_url, [request.message_body])
        return pb.SendMessageResponse(message_id="m")

    async def SendMessageBatch(self, request):
        self._call("SendMessageBatch")
        await asyncio.sleep(self.delay)
        if self.fail_code:
            return pb.SendMessageBatchResponse(failed=[pb.BatchResultErrorEntry(
                id="0", code=self.fail_code, message="no")])
        self._put(request.queue_url, [e.message_body for e in request.entries])
        return pb.SendMessageBatchResponse(successful=[
            pb.SendMessageBatchResultEntry(id=e.id) for e in request.entries])

    async def ReceiveMessage(self, request):
        self._call("ReceiveMessage")
        q = self.visible.setdefault(request.queue_url, [])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_S
        while not q and loop.time() < deadline:
            self._sent.clear()
            try:
                await asyncio.wait_for(self._sent.wait(), deadline - loop.time())
            except TimeoutError:
                break
        await asyncio.sleep(self.delay)
        taken = q[:request.max_number_of_messages]
        del q[:len(taken)]
        out = []
        for body in taken:
            self._handles += 1
            handle = f"h{self._handles}"
            self.in_flight[handle] = body
            out.append(pb.Message(message_id=handle, receipt_handle=handle, body=body))
        return pb.ReceiveMessageResponse(messages=out)

    async def DeleteMessageBatch(self, request):
        self._call("DeleteMessageBatch")
        await asyncio.sleep(self.delay)
        ok, failed = [], []
        for e in request.entries:
            if self.in_flight.pop(e.receipt_handle, None) is None:
                failed.append(pb.BatchResultErrorEntry(id=e.id, code="ReceiptHandleIsInvalid"))
            else:
                ok.append(pb.DeleteMessageBatchResultEntry(id=e.id))
        return pb.DeleteMessageBatchResponse(successful=ok, failed=failed)

    async def DeleteMessage(self, request):
        self._call("DeleteMessage")
        await asyncio.sleep(self.delay)
        del self.in_flight[request.receipt_handle]
        return pb.DeleteMessageResponse()


def workload(phases=bq.PHASES, *, concurrency=4, spool=None, fifo=False, warmup=0.05,
             duration=0.25, backlog=None) -> bq.QueuesWorkload:
    return bq.QueuesWorkload(
        queue="bench-test" + (".fifo" if fifo else ""), endpoints=("a:1",),
        message_size=SIZE, phase_names=tuple(phases), concurrency=concurrency,
        warmup_s=warmup, duration_s=duration, spool=spool, backlog=backlog)


async def run_all(client: qc.QueuesClient, w: bq.QueuesWorkload) -> dict[str, PhaseStats]:
    """What engine.bench.runner.drive does with a client, minus the channel."""
    out = {}
    for phase in w.phases():
        await client.prepare(phase)
        out[phase] = await run_phase(client, phase, w.concurrency, w.warmup_s, w.duration_s)
    return out


# -- small pieces ------------------------------------------------------------------------


def test_parse_phases_keeps_run_order():
    assert bq.parse_phases("pipeline, send") == ("send", "pipeline")
    assert bq.parse_phases("delete,receive,delete-batch") == (
        "receive", "delete-batch", "delete")
    for bad in ("", "sned", "send,nope"):
        with pytest.raises(ValueError, match="phase"):
            bq.parse_phases(bad)


def test_bodies_carry_their_send_time_and_exact_size():
    body = qm.stamped_body(SIZE, now_ns=1_763_800_000_123_456_789)
    assert len(body) == SIZE and qm.sent_at(body) == 1_763_800_000_123_456_789
    before = time.time_ns()
    assert before <= qm.sent_at(qm.stamped_body(qm.MIN_MESSAGE_SIZE)) <= time.time_ns()
    qm.check_message_size(qm.MIN_MESSAGE_SIZE)
    qm.check_message_size(qm.MAX_MESSAGE_SIZE)
    for bad in (qm.MIN_MESSAGE_SIZE - 1, qm.MAX_MESSAGE_SIZE + 1):
        with pytest.raises(ValueError, match="message size"):
            qm.check_message_size(bad)


def test_queue_names_and_roles():
    assert qm.pipeline_queue_name("bench-ab12") == "bench-ab12-pipe"
    assert qm.pipeline_queue_name("bench-ab12.fifo") == "bench-ab12-pipe.fifo"
    assert qm.new_queue_name(True).endswith(".fifo")
    assert not qm.new_queue_name(False).endswith(".fifo")
    assert qc.pipeline_roles(8) == (4, 4, 40)
    assert qc.pipeline_roles(3) == (1, 2, 20)
    assert qc.pipeline_roles(3, backlog=7) == (1, 2, 7)
    w = workload(("send", "pipeline"))
    assert w.queues() == ["bench-test", "bench-test-pipe"]
    assert workload(("pipeline",)).queues() == ["bench-test-pipe"]
    assert w.baseline_for("send") == ("unary", "ops_per_s")
    assert w.baseline_for("pipeline") is None


def test_workloads_survive_pickling_for_spawned_workers():
    w = workload(spool="/tmp/x")
    assert pickle.loads(pickle.dumps(w)) == w
    base = pickle.loads(pickle.dumps(bq.UnaryBaseline(size=SIZE)))
    assert base.phases() == ("unary",) and base.size == SIZE


def test_cli_defaults_and_phases():
    args = build_parser().parse_args(["bench", "queues"])
    assert args.message_size == 100 and not args.fifo and args.phases is None
    assert args.concurrency == 8 and args.processes == 1 and args.duration == 10.0
    assert args.pipeline_backlog is None
    args = build_parser().parse_args(["bench", "queues", "--endpoint", "a:1,b:2", "--fifo",
                                      "--message-size", "1KiB", "--phases", "pipeline,send",
                                      "--pipeline-backlog", "30"])
    assert args.endpoint == "a:1,b:2" and args.fifo and args.message_size == 1024
    assert args.pipeline_backlog == 30
    assert args.phases == ("send", "pipeline")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "queues", "--phases", "everything"])


@pytest.mark.parametrize("argv", [
    ["--message-size", "8"],
    ["--message-size", "200KiB"],
    ["--concurrency", "1"],  # the pipeline needs a producer and a consumer
])
def test_cli_refuses_before_connecting(argv, capsys):
    args = build_parser().parse_args(["bench", "queues", "--endpoint", "127.0.0.1:1", *argv])
    assert run_queues(args) == 2
    assert "engine bench:" in capsys.readouterr().err


def test_stock_needed_follows_the_rates_seen():
    client = qc.QueuesClient(workload(warmup=1.0, duration=9.0), [FakeQueues()], 0)
    # nothing seen yet: the defaults, x2 for receives (they may outrun sends), x1.5 deletes
    assert client.stock_needed("receive") == 2.0 * 5000 * 10
    assert client.stock_needed("delete") == 1.5 * 1000 * 10
    client.rates.update({"send": 800.0, "send-batch": 6000.0, "receive": 7000.0})
    assert client.stock_needed("receive") == 2.0 * 7000 * 10
    assert client.stock_needed("delete-batch") == 1.5 * 7000 * 10
    assert client.stock_needed("delete") == 1.5 * 800 * 10


class FlakyQueues(FakeQueues):
    """Refuses the first `refusals` batch sends with UNAVAILABLE, like a server whose Raft
    group is busy writing a snapshot (or all of them, refusals=-1)."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def SendMessageBatch(self, request):
        if self.refusals:
            self.refusals -= 1
            await asyncio.sleep(0.001)
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None, "busy")
        return await super().SendMessageBatch(request)


def test_stocking_rides_out_a_busy_server(monkeypatch):
    fake = FlakyQueues(refusals=25)
    client = qc.QueuesClient(workload(("receive",)), [fake], 0)
    run_virtual(client.prepare("receive"))
    assert fake.refusals == 0
    assert client.sent >= client.stock_needed("receive")

    monkeypatch.setattr(qc, "RETRY_FOR_S", 0.2)
    down = qc.QueuesClient(workload(("receive",)), [FlakyQueues(refusals=-1)], 0)
    with pytest.raises(grpc.aio.AioRpcError):
        run_virtual(down.prepare("receive"))


# -- phases against the fake -------------------------------------------------------------


@pytest.mark.parametrize("fifo", [False, True])
def test_every_phase_counts_messages(tmp_path, fifo):
    fake = FakeQueues()
    w = workload(spool=str(tmp_path), fifo=fifo)
    client = qc.QueuesClient(w, [fake], 0)
    stats = run_virtual(run_all(client, w))

    for name, s in stats.items():
        assert s.errors == {}, name
        assert s.ops > 0 and s.bytes > 0, name
        assert s.bytes % SIZE == 0, name
    per_call = {name: s.bytes / SIZE / s.ops for name, s in stats.items()}
    assert per_call["send"] == per_call["delete"] == 1
    assert per_call["send-batch"] == per_call["delete-batch"] == qm.BATCH
    assert per_call["receive"] == qm.BATCH  # stocked: never a short receive
    # the main queue, with what stocking left in it, is gone before the pipeline
    assert fake.deleted == [f"http://fake/000000000000/{w.queue}"]
    tally = qr.PipelineTally.read(tmp_path)
    assert tally.sent > 0 and tally.e2e_ns and min(tally.e2e_ns) > 0
    assert abs(len(tally.e2e_ns) - stats["pipeline"].bytes // SIZE) <= 2 * qm.BATCH
    if fifo:  # every call its own group, every message its own deduplication id
        assert client._ids >= fake.calls["SendMessage"] + 10 * fake.calls["SendMessageBatch"]


def test_stocking_keeps_deletes_supplied():
    # no rate seen yet, so stocking assumes the defaults: a fake slower than those
    fake = FakeQueues(delay=0.01)
    w = workload(("delete-batch", "delete"))
    client = qc.QueuesClient(w, [fake], 0)
    stats = run_virtual(run_all(client, w))
    assert stats["delete-batch"].errors == {} and stats["delete"].errors == {}
    assert fake.calls["ReceiveMessage"] > 0  # the handles came from untimed receives
    assert client.rates["delete-batch"] > 0


def test_running_dry_is_an_error_not_a_slow_phase():
    fake = FakeQueues()
    w = workload(("send", "receive", "delete"), concurrency=3, warmup=0.0, duration=0.4)
    client = qc.QueuesClient(w, [fake], 0)

    async def main():
        await client.prepare("send")  # no stocking before these: they find nothing
        empty = await run_phase(client, "receive", 3, w.warmup_s, w.duration_s)
        await client.prepare("send")
        started = asyncio.get_running_loop().time()
        dry = await run_phase(client, "delete", 3, w.warmup_s, w.duration_s)
        return empty, dry, asyncio.get_running_loop().time() - started

    empty, dry, took = run_virtual(main())
    assert set(empty.errors) == {"QueueEmpty"} and empty.ops == 0
    assert dry.errors == {"NoReceiptHandles": 3}  # one per coroutine, after the window
    assert 0.29 < took < 2.0


def test_failed_batch_entries_are_errors():
    fake = FakeQueues(fail_code="AWS.SimpleQueueService.BatchRequestTooLong")
    w = workload(("send-batch",))
    client = qc.QueuesClient(w, [fake], 0)
    stats = run_virtual(run_all(client, w))
    assert set(stats["send-batch"].errors) == {"AWS.SimpleQueueService.BatchRequestTooLong"}
    assert stats["send-batch"].ops == 0


@pytest.mark.parametrize("backlog", [None, 15])
def test_pipeline_back_pressure_bounds_the_queue(tmp_path, backlog):
    fake = FakeQueues()
    w = workload(("pipeline",), concurrency=6, spool=str(tmp_path), backlog=backlog)
    client = qc.QueuesClient(w, [fake], 0)
    stats = run_virtual(run_all(client, w))
    producers, consumers, limit = qc.pipeline_roles(6, backlog)
    assert (producers, consumers, limit) == (3, 3, backlog or 30)
    # a producer checks the limit before its batch: at most one batch each beyond it
    assert fake.max_depth <= limit + producers * qm.BATCH
    tally = qr.PipelineTally.read(tmp_path)
    # waits are counted inside the window only: never more than the producers had
    assert 0 <= tally.wait_ns <= producers * w.duration_s * 1e9
    received = stats["pipeline"].bytes // SIZE
    # the client's window opens a few us after the runner's: an op may fall between
    assert received > 0 and abs(received - len(tally.e2e_ns)) <= consumers * qm.BATCH
    # the same window offset applies to sends counted against receives
    assert tally.sent >= received - limit - consumers * qm.BATCH
    assert all(ns < 1e9 for ns in tally.e2e_ns)


def test_coroutines_spread_over_endpoints():
    fakes = [FakeQueues(), FakeQueues(), FakeQueues()]
    w = workload(("send",), concurrency=4)
    client = qc.QueuesClient(w, fakes, process_index=1)
    run_virtual(run_all(client, w))
    # coroutines 4..7 of the run go to endpoints 1, 2, 0, 1
    sends = [f.calls.get("SendMessage", 0) for f in fakes]
    assert all(sends)
    assert sends[1] > sends[0] and sends[1] > sends[2]


def test_pipeline_tally_merges_processes(tmp_path):
    from array import array
    (tmp_path / "pipeline-0-1.bin").write_bytes(array("q", [
        qr.SENT, 10, qr.E2E, 5_000_000, qr.E2E, 7_000_000, qr.WAIT, 1000]).tobytes())
    (tmp_path / "pipeline-1-2.bin").write_bytes(array("q", [
        qr.SENT, 10, qr.EMPTY, 1, qr.E2E, 6_000_000]).tobytes())
    tally = qr.PipelineTally.read(tmp_path)
    assert tally.sent == 20 and tally.empty_receives == 1 and tally.wait_ns == 1000
    assert sorted(tally.e2e_ns) == [5_000_000, 6_000_000, 7_000_000]


# -- report ------------------------------------------------------------------------------


def _stats(name: str, ops: int, messages_per_op: int) -> PhaseStats:
    s = PhaseStats(name, seconds=2.0)
    for i in range(ops):
        s.record((i + 1) * 1_000_000, messages_per_op * SIZE)
    return s


def test_report_has_messages_and_pipeline_figures():
    config = run_config(workload="queues", endpoint="a:1", size=SIZE, size_text="64B",
                        concurrency=4, processes=1, duration=2.0, warmup=0.0)
    phases = {"send-batch": _stats("send-batch", 100, 10),
              "pipeline": _stats("pipeline", 50, 4)}
    baseline = {"unary": _stats("unary", 400, 1)}
    report = build_report(config, phases, baseline, {"send-batch": ("unary", "ops_per_s")})
    tally = qr.PipelineTally(sent=220, empty_receives=3, wait_ns=1_000_000_000,
                             e2e_ns=[1_000_000 * i for i in range(1, 201)])
    qr.add_queue_figures(report, SIZE, tally, producers=2, consumers=2, backlog_limit=40)

    assert report["phases"]["send-batch"]["messages"] == 1000
    assert report["phases"]["send-batch"]["messages_per_s"] == pytest.approx(500.0)
    pipe = report["pipeline"]
    assert pipe["received"] == 200 and pipe["received_per_s"] == pytest.approx(100.0)
    assert pipe["sent"] == 220 and pipe["sent_per_s"] == pytest.approx(110.0)
    assert pipe["e2e_samples"] == 200
    assert pipe["e2e_latency_ms"]["p50"] == pytest.approx(100.5)
    assert pipe["e2e_latency_ms"]["p99"] == pytest.approx(198.01)
    assert pipe["producer_wait_fraction"] == pytest.approx(0.25)  # 1 s of 2 x 2 s
    two = build_report(config, phases, None, {})
    qr.add_queue_figures(two, SIZE, tally, producers=2, consumers=2, backlog_limit=40,
                         processes=2)
    assert two["pipeline"]["producer_wait_fraction"] == pytest.approx(0.125)  # of 4 x 2 s
    assert report["vs_baseline"]["send-batch"]["fraction"] == pytest.approx(0.25)

    buf = io.StringIO()
    qr.render_messages(report, Console(file=buf, width=160))
    text = buf.getvalue()
    assert "send-batch" in text and "1,000" in text and "500" in text
    assert "2 producer(s) + 2 consumer(s)" in text and "100.50" in text

    no_pipe = build_report(config, {"send-batch": phases["send-batch"]}, None, {})
    qr.add_queue_figures(no_pipe, SIZE, None, producers=2, consumers=2, backlog_limit=40)
    assert no_pipe["pipeline"] is None
