"""SQS queues on a real 6-node, 3-AZ cluster under faults: long polls, paused leaders, AZ loss.

Every queue partition lives in a Raft group of three members in three AZs (see
engine/queues/groups.py), and any node serves any call by forwarding to a member
(router.py). These tests check what that design promises, with real processes:

* a long poll parked on one node is woken by a send through a node in another AZ at
  once (apply notifications, no polling), and an idle long poll costs its node almost
  no CPU;
* kill -9 of both nodes of one AZ under a mixed load of producers and consumers loses
  no acknowledged message, never delivers a message after its delete was acknowledged,
  and keeps every FIFO group in order;
* a leader paused with SIGSTOP (it still believes it leads) cannot acknowledge a send
  the new majority does not have; writes go on through the other nodes meanwhile, and
  after SIGCONT it follows the new leader;
* a paused follower does not stop nodes outside its group from forwarding to the group.

One cluster serves the module; the tests run in file order, each leaves every node
running (the AZ-loss test restarts the zone it killed, the pause tests SIGCONT).
"""

from __future__ import annotations

import itertools
import random
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import psutil
import pytest

from engine.client import client as sdk_client
from engine.client.transport import CHANNEL_OPTIONS
from engine.queues.groups import partition_group
from engine.v1.admin_pb2 import QueueGroupStatus

from .conftest import PEER_TIMEOUT, Cluster, error_code, wait_until

GROUPS = 6  # queue groups of a 6-node cluster: one per node
VISIBILITY = 5  # seconds: the consumers' VisibilityTimeout in the load test
CALL_TIMEOUT = 6.0  # client deadline: above the nodes' peer timeout (2 s) and Raft's


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One running cluster for the module, every queue group with an agreed leader."""
    c = Cluster(tmp_path_factory.mktemp("sqs"))
    try:
        c.start()
        c.wait_buckets_ready()
        wait_until(lambda: agreed_leaders(c), 30, "a leader in every queue group")
        yield c
    finally:
        c.close()


# -- queue group views -----------------------------------------------------------------


def group_views(c: Cluster, nodes: list[str]) -> dict[int, dict[str, QueueGroupStatus]]:
    """group index -> member node -> that member's view of the group (GetStatus)."""
    out: dict[int, dict[str, QueueGroupStatus]] = defaultdict(dict)
    for node in nodes:
        for g in c.queue_groups(node, timeout=2):
            out[g.index][node] = g
    return dict(out)


def agreed_leaders(c: Cluster) -> dict[int, tuple[str, int]] | None:
    """group -> (leader, term) when all three members of every group name the same
    leader in the same term; None while any group is electing or a member lags."""
    views = group_views(c, c.node_ids)
    out = {}
    for index in range(GROUPS):
        members = views.get(index, {})
        seen = {(v.leader, v.term) for v in members.values()}
        if len(members) != 3 or len(seen) != 1 or not next(iter(seen))[0]:
            return None
        out[index] = next(iter(seen))
    return out


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


# -- long polls -------------------------------------------------------------------------


def test_long_poll_wakes_across_nodes_and_idles_cheaply(cluster: Cluster) -> None:
    """A WaitTimeSeconds=20 receive on n1 (az-1) returns a message sent through n3
    (az-3) well within a second of the send returning: the apply of the send wakes the
    waiter on whichever member it waits on, and a waiter on another node answers its
    Wait RPC at once. Messages land in random partitions, so over the trials both
    groups n1 is a member of and groups it reaches over the network are exercised.

    An idle 5 s long poll must not busy-wait: n1's CPU time over the poll may exceed
    its CPU time over 5 idle seconds (the Raft tick threads of its groups run anyway)
    by less than 0.5 s."""
    a, b = "n1", "n3"
    assert cluster.zone(a) != cluster.zone(b)
    receiver, sender = cluster.sqs(a, timeout=10), cluster.sqs(b, timeout=10)
    url = receiver.create_queue(QueueName="lp-wake")["QueueUrl"]
    sender.get_queue_url(QueueName="lp-wake")  # both channels connected, catalog seen

    latencies: list[float] = []
    for i in range(8):
        box: dict[str, Any] = {}

        def poll(box: dict[str, Any] = box) -> None:
            try:
                box["messages"] = receiver.receive_message(
                    QueueUrl=url, WaitTimeSeconds=20, MaxNumberOfMessages=1).get("Messages", [])
            except Exception as exc:
                box["error"] = exc
            box["returned"] = time.monotonic()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        time.sleep(0.5)  # parked on every group (a send before that is found anyway)
        assert poller.is_alive(), f"the long poll returned early: {box}"
        body = f"wake-{i}-{uuid.uuid4()}"
        sender.send_message(QueueUrl=url, MessageBody=body)
        sent = time.monotonic()
        poller.join(25)
        assert not poller.is_alive() and "error" not in box, box
        assert [m["Body"] for m in box["messages"]] == [body]
        latencies.append(box["returned"] - sent)
        receiver.delete_message(QueueUrl=url,
                                ReceiptHandle=box["messages"][0]["ReceiptHandle"])
    print(f"\nlong-poll wake latency (send returned -> receive returned), ms: "
          f"median {statistics.median(latencies) * 1000:.1f}, "
          f"max {max(latencies) * 1000:.1f}, all "
          f"{[round(x * 1000, 1) for x in latencies]}")
    assert max(latencies) < 1.0, latencies

    # -- CPU of an idle long poll -----------------------------------------------------
    proc = psutil.Process(cluster.procs[a].pid)
    time.sleep(1.0)  # let the deletes and their notifications settle
    before = cpu_seconds(proc)
    time.sleep(5.0)
    idle = cpu_seconds(proc) - before
    before = cpu_seconds(proc)
    started = time.monotonic()
    got = receiver.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    took = time.monotonic() - started
    polling = cpu_seconds(proc) - before
    print(f"n1 CPU: {idle:.3f} s over 5 idle seconds, {polling:.3f} s over a {took:.2f} s "
          f"idle long poll (growth {polling - idle:+.3f} s)")
    assert "Messages" not in got, got
    assert 4.5 <= took < 7.0, f"an empty 5 s long poll took {took:.2f} s"
    assert polling - idle < 0.5, (idle, polling)


# -- losing an AZ under load -----------------------------------------------------------


@dataclass
class Received:
    """One message of one ReceiveMessage answer (Load.received keeps them in the order
    the answers returned: appended under the lock before the receiver deletes)."""

    start: float  # when the ReceiveMessage call was made
    end: float  # when it returned
    node: str
    queue: str
    message_id: str
    body: str


@dataclass
class Load:
    """What every producer and consumer thread saw, recorded under one lock."""

    cluster: Cluster
    victims: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_producers: threading.Event = field(default_factory=threading.Event)
    stop_consumers: threading.Event = field(default_factory=threading.Event)
    epoch: int = 0  # bumped after the restart: workers open fresh channels
    outage: tuple[float, float] = (float("inf"), float("inf"))
    attempted: set[str] = field(default_factory=set)  # every body ever sent
    # body -> (queue, MessageId, when the send returned)
    acked: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    deleted: dict[str, float] = field(default_factory=dict)  # message id -> first ack
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failed_entries: list[str] = field(default_factory=list)
    survivor_errors: list[tuple[float, float, str]] = field(default_factory=list)
    thread_errors: list[str] = field(default_factory=list)

    def error(self, op: str, node: str, started: float, exc: BaseException) -> None:
        """Count a failed call: `victim` if it went to a node of the lost AZ while that
        was down or coming back (expected), `survivor` otherwise (elections)."""
        lo, hi = self.outage
        kind = "victim" if node in self.victims and lo - 0.5 <= started <= hi else "survivor"
        with self.lock:
            self.errors[(op, kind, error_code(exc))] += 1
            if kind == "survivor":
                self.survivor_errors.append(
                    (started, time.monotonic(), f"{op} through {node}: {error_code(exc)}: "
                     f"{str(exc)[:200]}"))

    def ack(self, queue: str, body: str, message_id: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.acked.setdefault(body, (queue, message_id, now))

    def receive(self, start: float, node: str, queue: str, msgs: list[dict[str, Any]]) -> None:
        end = time.monotonic()
        with self.lock:
            for m in msgs:
                self.received.append(Received(start, end, node, queue,
                                              m["MessageId"], m["Body"]))

    def delete_acked(self, message_ids: list[str]) -> None:
        now = time.monotonic()
        with self.lock:
            for mid in message_ids:
                self.deleted.setdefault(mid, now)


class Worker:
    """One thread's clients, one per node, opened lazily and reopened after a restart
    (the test bumps Load.epoch), so no call waits out a backoff from the outage."""

    def __init__(self, load: Load, seed: int) -> None:
        self.load = load
        self.rng = random.Random(seed)
        nodes = list(load.cluster.node_ids)
        self.rng.shuffle(nodes)
        self.nodes = itertools.cycle(nodes)
        self._clients: dict[str, Any] = {}
        self._epoch = 0

    def client(self, node: str) -> Any:
        if self._epoch != self.load.epoch:
            self.close()
            self._epoch = self.load.epoch
        if node not in self._clients:
            # gRPC shares a subchannel between channels to one address: a "fresh" channel
            # would inherit the reconnect backoff (seconds) of another thread's channel
            # that saw the node down. A local pool makes a new client really connect anew.
            address = self.load.cluster.endpoint(node)
            channel = grpc.insecure_channel(
                address, [*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)])
            self._clients[node] = sdk_client("sqs", endpoint=address, timeout=CALL_TIMEOUT,
                                             channel=channel)
        return self._clients[node]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def call(self, op: str, fn: Callable[[Any], Any]) -> tuple[str, Any]:
        """(node, `fn(client)`) through the next node; (node, None), the error counted,
        if the call fails."""
        node = next(self.nodes)
        started = time.monotonic()
        try:
            return node, fn(self.client(node))
        except Exception as exc:
            self.load.error(op, node, started, exc)
            time.sleep(0.05)
            return node, None


def send_until_acked(w: Worker, url: str, queue: str, entries: list[dict[str, Any]]) -> None:
    """Send `entries` (one message, or a batch) through the next node, and again through
    the next one until acknowledged or the producers are stopped. A retried FIFO entry
    carries the same deduplication id, so it is the same message; a retried standard
    one may arrive twice, which at-least-once delivery allows."""
    load = w.load
    with load.lock:
        load.attempted.update(e["MessageBody"] for e in entries)
    single = {k: v for k, v in entries[0].items() if k != "Id"}
    while not load.stop_producers.is_set():
        if len(entries) == 1:
            _, r = w.call("send", lambda c: c.send_message(QueueUrl=url, **single))
            if r is not None:
                load.ack(queue, entries[0]["MessageBody"], r["MessageId"])
                return
        else:
            _, r = w.call("send_batch", lambda c: c.send_message_batch(QueueUrl=url,
                                                                       Entries=entries))
            if r is not None:
                by_id = {e["Id"]: e["MessageBody"] for e in entries}
                for ok in r["Successful"]:
                    load.ack(queue, by_id[ok["Id"]], ok["MessageId"])
                if r["Failed"]:
                    with load.lock:
                        load.failed_entries += [str(f) for f in r["Failed"]]
                return


def standard_producer(load: Load, url: str, k: int) -> None:
    w = Worker(load, 100 + k)
    try:
        for n in itertools.count():
            if load.stop_producers.is_set():
                return
            size = 1 if n % 2 else w.rng.randint(2, 10)
            entries = [{"Id": str(i), "MessageBody": f"std|{k}|{n}|{i}|{uuid.uuid4().hex[:8]}"}
                       for i in range(size)]
            send_until_acked(w, url, "std", entries)
            time.sleep(0.03)
    except Exception as exc:
        load.thread_errors.append(f"standard producer {k}: {exc!r}")
    finally:
        w.close()


def fifo_producer(load: Load, url: str, group: str) -> None:
    """Sends its group's counters in order; the next only after the previous is acked."""
    w = Worker(load, 200 + int(group.rsplit("-", 1)[1]))
    counter = 0
    try:
        while not load.stop_producers.is_set():
            size = 1 if counter % 3 else w.rng.randint(2, 5)
            entries = [{"Id": str(i), "MessageBody": f"fifo|{group}|{counter + i:06d}",
                        "MessageGroupId": group,
                        "MessageDeduplicationId": f"{group}-{counter + i}"}
                       for i in range(size)]
            send_until_acked(w, url, "fifo", entries)
            counter += size
            time.sleep(0.03)
    except Exception as exc:
        load.thread_errors.append(f"fifo producer {group}: {exc!r}")
    finally:
        w.close()


def consumer(load: Load, url: str, queue: str, k: int) -> None:
    """Long-poll through the next node, record, delete through the next (retrying twice
    more on failure), record each acknowledged delete with the time it returned."""
    w = Worker(load, 1000 + k)
    try:
        while not load.stop_consumers.is_set():
            started = time.monotonic()
            node, r = w.call("receive", lambda c: c.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=VISIBILITY,
                WaitTimeSeconds=w.rng.choice((1, 2))))
            msgs = (r or {}).get("Messages", [])
            if not msgs:
                continue
            load.receive(started, node, queue, msgs)
            pending = {m["MessageId"]: m["ReceiptHandle"] for m in msgs}
            batch = len(pending) > 1 and w.rng.random() < 0.7
            for _ in range(3):  # each try through the next node
                if not pending:
                    break
                if batch:
                    entries = [{"Id": str(i), "ReceiptHandle": h}
                               for i, h in enumerate(pending.values())]
                    ids = list(pending)
                    _, d = w.call("delete_batch", lambda c, e=entries: c.delete_message_batch(
                        QueueUrl=url, Entries=e))
                    if d is not None:
                        done = [ids[int(s["Id"])] for s in d["Successful"]]
                        load.delete_acked(done)
                        for mid in done:
                            pending.pop(mid)
                        if d["Failed"]:
                            with load.lock:
                                load.failed_entries += [str(f) for f in d["Failed"]]
                    continue
                for mid, handle in list(pending.items()):
                    _, d = w.call("delete", lambda c, h=handle: c.delete_message(
                        QueueUrl=url, ReceiptHandle=h))
                    if d is not None:
                        load.delete_acked([mid])
                        pending.pop(mid)
    except Exception as exc:
        load.thread_errors.append(f"{queue} consumer {k}: {exc!r}")
    finally:
        w.close()


def test_az_loss_under_load_loses_nothing_and_keeps_fifo_order(cluster: Cluster) -> None:
    """Producers (single sends and batches) and long-polling consumers run against a
    standard and a FIFO queue through all six nodes; both nodes of az-2 are killed with
    SIGKILL for ~10 s and restarted while the load goes on. Then the producers stop and
    the consumers drain, and keep consuming for one visibility timeout more, so that a
    message whose acknowledged delete was lost would show up again.

    Every acknowledged message must have been received with the MessageId its send
    returned; no message may be received by a call made after its delete was
    acknowledged; in every FIFO group the first receipts come in send order. Calls to
    the killed nodes fail (counted as expected); calls to the others are retried."""
    victims = cluster.nodes_in("az-2")
    assert victims == ["n2", "n5"]
    setup = cluster.sqs("n1", timeout=10)
    std_url = setup.create_queue(QueueName="az-load")["QueueUrl"]
    fifo_url = setup.create_queue(QueueName="az-load.fifo",
                                  Attributes={"FifoQueue": "true"})["QueueUrl"]
    for node in cluster.node_ids:  # the catalog has reached every node
        wait_until(lambda n=node: cluster.sqs(n).get_queue_url(QueueName="az-load.fifo"),
                   10, f"the queues on {node}")

    load = Load(cluster, victims)
    fifo_groups = [f"grp-{i}" for i in range(4)]
    producers = [threading.Thread(target=standard_producer, args=(load, std_url, k))
                 for k in range(2)]
    producers += [threading.Thread(target=fifo_producer, args=(load, fifo_url, g))
                  for g in fifo_groups]
    consumers = [threading.Thread(target=consumer, args=(load, std_url, "std", k))
                 for k in range(3)]
    consumers += [threading.Thread(target=consumer, args=(load, fifo_url, "fifo", 10 + k))
                  for k in range(2)]
    threads = producers + consumers
    for t in threads:
        t.daemon = True
        t.start()
    try:
        t_start = time.monotonic()
        time.sleep(4)
        t_kill = time.monotonic()
        load.outage = (t_kill, float("inf"))
        cluster.kill9(victims)
        time.sleep(10)
        t_restart = time.monotonic()
        cluster.restart(victims)
        t_back = time.monotonic()
        load.outage = (t_kill, t_back + 3)  # the restarted nodes may still be catching up
        load.epoch += 1
        time.sleep(5)
        t_stop = time.monotonic()
        load.stop_producers.set()
        for t in producers:
            t.join(CALL_TIMEOUT + 5)

        # -- drain: until every acknowledged message was seen, then one more timeout -----
        def all_seen() -> bool:
            with load.lock:
                return set(load.acked) <= {r.body for r in load.received}

        wait_until(all_seen, 40, "every acknowledged message to be received", interval=0.25)
        drained = time.monotonic()
        time.sleep(VISIBILITY + 1.5)
    finally:
        load.stop_producers.set()
        load.stop_consumers.set()
        for t in threads:
            t.join(CALL_TIMEOUT + 25)
    assert not any(t.is_alive() for t in threads)

    # -- report -----------------------------------------------------------------------
    def rate(queue: str, lo: float, hi: float) -> float:
        return sum(1 for q, _, at in load.acked.values() if q == queue and lo <= at < hi) / (
            hi - lo)

    phases = {"before": (t_start, t_kill), "outage": (t_kill, t_restart),
              "restarting": (t_restart, t_back), "after": (t_back, t_stop)}
    print(f"\nacknowledged sends: {len(load.acked)} of {len(load.attempted)} bodies tried; "
          f"receipts {len(load.received)}, acknowledged deletes {len(load.deleted)}")
    for name, (lo, hi) in phases.items():
        print(f"  {name:10s} {hi - lo:5.1f} s: standard {rate('std', lo, hi):6.1f} msg/s, "
              f"fifo {rate('fifo', lo, hi):6.1f} msg/s")
    print(f"  drained {drained - t_stop:.1f} s after the producers stopped; "
          f"restart took {t_back - t_restart:.1f} s")
    first_seen: dict[str, float] = {}
    for r in load.received:
        first_seen.setdefault(r.body, r.end)
    for queue in ("std", "fifo"):
        mine = {b: first_seen.get(b, float("inf")) for b, a in load.acked.items()
                if a[0] == queue}
        print(f"  {queue}: backlog when the producers stopped "
              f"{sum(1 for t in mine.values() if t > t_stop)}, all seen "
              f"{max(mine.values()) - t_stop:.1f} s after")
    by_kind: Counter[str] = Counter()
    for (op, kind, code), n in sorted(load.errors.items()):
        by_kind[kind] += n
        print(f"  errors {kind:8s} {op:12s} {code}: {n}")
    print(f"  errors in total: {dict(by_kind)}; the first others (seconds after the kill):")
    for started, ended, what in load.survivor_errors[:12]:
        print(f"    {started - t_kill:+6.2f} .. {ended - t_kill:+6.2f}  {what}")

    # -- checks -----------------------------------------------------------------------
    dead = {n: cluster.log_tail(n, 30) for n in cluster.node_ids if not cluster.running(n)}
    assert not dead, "nodes exited:\n" + "\n".join(f"== {n}\n{t}" for n, t in dead.items())
    assert not load.thread_errors, load.thread_errors
    assert not load.failed_entries, load.failed_entries[:10]
    assert by_kind["victim"] > 0, "no call to the killed nodes failed: were they killed?"
    for queue in ("std", "fifo"):
        assert rate(queue, t_kill, t_restart) > 0, f"no {queue} send acked during the outage"

    received_ids: dict[str, set[str]] = defaultdict(set)
    for r in load.received:
        received_ids[r.body].add(r.message_id)
        assert r.body in load.attempted, f"received a body nobody sent: {r}"
    missing = {b: a for b, a in load.acked.items() if a[1] not in received_ids.get(b, set())}
    assert not missing, (f"{len(missing)} acknowledged messages never received (body -> "
                         f"(queue, message id, ack time)): {list(missing.items())[:10]}")

    late = [(r, load.deleted[r.message_id]) for r in load.received
            if r.message_id in load.deleted and r.start > load.deleted[r.message_id]]
    assert not late, (f"{len(late)} receipts made after the message's delete was "
                      f"acknowledged (receipt, delete ack time): {late[:10]}")

    for group in fifo_groups:
        first: list[int] = []
        seen: set[int] = set()
        for r in load.received:  # in the order the receipts returned
            parts = r.body.split("|")
            if r.queue == "fifo" and parts[1] == group:
                counter = int(parts[2])
                if counter not in seen:
                    seen.add(counter)
                    first.append(counter)
        out_of_order = [(a, b) for a, b in itertools.pairwise(first) if b < a]
        assert not out_of_order, f"{group}: first receipts out of order at {out_of_order[:10]}"
        assert first, f"{group}: nothing received"
    redelivered = len(load.received) - len({r.message_id for r in load.received})
    print(f"  redeliveries (same message received again): {redelivered}")


# -- a paused leader -------------------------------------------------------------------


def fifo_name_in_group(group: int, prefix: str) -> str:
    """A FIFO queue name whose only partition (0) lives in `group`."""
    for i in itertools.count():
        name = f"{prefix}-{i}.fifo"
        if partition_group(name, 0, GROUPS) == group:
            return name
    raise AssertionError("unreachable")


def group_members(c: Cluster, node: str, group: int) -> list[str]:
    return list(next(v for v in c.queue_groups(node) if v.index == group).members)


def drain_fifo(c: Cluster, node: str, url: str, want: set[str], timeout: float = 20.0
               ) -> list[tuple[str, str]]:
    """(body, MessageId) of every message received through `node`, each deleted at once,
    until `want` was seen and a 1 s long poll came back empty (or the timeout)."""
    sqs = c.sqs(node, timeout=10)
    received: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=30).get("Messages", [])
        received += [(m["Body"], m["MessageId"]) for m in msgs]
        if msgs:
            r = sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
            assert not r["Failed"], r
        elif want <= {b for b, _ in received}:
            break
    return received


def test_paused_leader_cannot_acknowledge_what_the_majority_lacks(cluster: Cluster) -> None:
    """SIGSTOP the leader L of one queue group: it keeps its sockets and still believes
    it leads. The other two members must elect a new leader in a higher term, and one
    send through every other node (members and non-members of the group, all AZs) must
    be acknowledged meanwhile. A send through L itself, started while L is stopped,
    cannot progress; after SIGCONT it may succeed or fail, but if L acknowledges it,
    the majority has it. Draining the queue through a node in another AZ must then
    return every acknowledged message exactly once, with its acknowledged MessageId, in
    acknowledgement order (one FIFO message group), and L must follow the new leader.

    The group is one whose leader is also its first member, when there is one: the
    member every node outside the group tries first (router.py), so the test also
    covers forwarding past a member that neither answers nor refuses."""
    leaders = wait_until(lambda: agreed_leaders(cluster), 30, "agreed queue group leaders")
    firsts = [g for g, (who, _) in sorted(leaders.items())
              if group_members(cluster, who, g)[0] == who]
    group = firsts[0] if firsts else 0
    leader, term = leaders[group]
    members = group_members(cluster, leader, group)
    others = [n for n in members if n != leader]
    writers = [n for n in cluster.node_ids if n != leader]
    drainer = next(n for n in cluster.node_ids
                   if cluster.zone(n) != cluster.zone(leader) and n not in members)
    name = fifo_name_in_group(group, "stale")
    print(f"\ngroup {group}: leader {leader} (term {term}), members {members}; "
          f"queue {name}; drain through {drainer}")

    url = cluster.sqs(writers[0]).create_queue(
        QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    attempted: list[str] = []
    acked: list[tuple[str, str]] = []  # (body, MessageId) in acknowledgement order

    def send(node: str, body: str, timeout: float = 10.0) -> None:
        attempted.append(body)
        r = cluster.sqs(node, timeout=timeout).send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body)
        acked.append((body, r["MessageId"]))

    for node in cluster.node_ids:  # every node, L too, while all is well
        send(node, f"before-{node}")
    paused_client = sdk_client("sqs", endpoint=cluster.endpoint(leader), timeout=30)
    paused_client.get_queue_url(QueueName=name)  # its channel is connected before the stop

    failures: list[str] = []
    outcome: dict[str, Any] = {}
    stale_body = "via-paused-leader"
    stopped = False
    try:
        cluster.sigstop(leader)
        stopped = True
        t_stop = time.monotonic()

        def new_leader() -> tuple[str, int] | None:
            views = [v for n in others for v in cluster.queue_groups(n, timeout=2)
                     if v.index == group]
            seen = {(v.leader, v.term) for v in views}
            if len(views) == 2 and len(seen) == 1:
                who, when = next(iter(seen))
                if who in others and when > term:
                    return who, when
            return None

        successor, new_term = wait_until(new_leader, 15, f"a new leader of group {group}")
        print(f"{successor} leads group {group} in term {new_term}, "
              f"{time.monotonic() - t_stop:.2f} s after SIGSTOP of {leader}")

        # Writes go on through every other node while L is stopped (checked at the end,
        # after the properties that do not depend on them).
        for node in writers:
            started = time.monotonic()
            try:
                send(node, f"during-{node}")
                result = "acknowledged"
            except Exception as exc:
                failures.append(f"{node}: {error_code(exc)}: {exc}")
                result = error_code(exc)
            print(f"  send through {node} ({'member' if node in members else 'non-member'}) "
                  f"while {leader} is stopped: {result} in {time.monotonic() - started:.2f} s")

        # A send through the paused leader's own endpoint cannot progress...
        def send_through_paused() -> None:
            attempted.append(stale_body)
            try:
                r = paused_client.send_message(
                    QueueUrl=url, MessageBody=stale_body, MessageGroupId="g",
                    MessageDeduplicationId=stale_body)
                outcome["ack"] = r["MessageId"]
            except Exception as exc:
                outcome["error"] = f"{error_code(exc)}: {exc}"
            outcome["at"] = time.monotonic()

        through_paused = threading.Thread(target=send_through_paused, daemon=True)
        through_paused.start()
        time.sleep(1.0)
        assert through_paused.is_alive() and not outcome, outcome
        # ... until L runs again and learns it was deposed.
        cluster.sigcont(leader)
        stopped = False
        resumed = time.monotonic()
        through_paused.join(40)
        assert not through_paused.is_alive()
        print(f"send through {leader} after SIGCONT: {outcome} "
              f"({outcome['at'] - resumed:.2f} s after SIGCONT)")
        if "ack" in outcome:
            acked.append((stale_body, outcome["ack"]))
    finally:
        if stopped:
            cluster.sigcont(leader)
        paused_client.close()

    def stepped_down() -> QueueGroupStatus | None:
        (view,) = [v for v in cluster.queue_groups(leader, timeout=2) if v.index == group]
        return view if view.leader not in ("", leader) and view.term >= new_term else None

    view = wait_until(stepped_down, 15, f"{leader} to follow the new leader")
    print(f"{leader} now sees {view.leader} leading group {group} in term {view.term}")
    send(leader, "after-through-old-leader")  # and it serves as a follower

    received = drain_fifo(cluster, drainer, url, {b for b, _ in acked})
    acked_bodies = {b for b, _ in acked}
    assert set(b for b, _ in received) <= set(attempted), received
    assert len({b for b, _ in received}) == len(received), f"a duplicate: {received}"
    assert [r for r in received if r[0] in acked_bodies] == acked, (
        f"drained {received}\nacknowledged {acked}")
    extra = [b for b, _ in received if b not in acked_bodies]
    print(f"drained {len(received)} messages: all {len(acked)} acknowledged ones exactly "
          f"once and in order; unacknowledged but delivered: {extra}")
    assert not failures, (f"sends failed while the old leader {leader} was stopped (its "
                          f"group kept a majority): {failures}")


# -- a hung member ---------------------------------------------------------------------


def test_hung_member_does_not_block_forwarding_from_other_nodes(cluster: Cluster) -> None:
    """SIGSTOP a follower F that is the first member of its group: the group keeps its
    leader and majority, so nothing needs electing, and sends through the three nodes
    outside the group must be acknowledged, each within the peer timeout (2 s) plus a
    second: a member that neither answers nor refuses may cost the forwarding node one
    peer timeout, not the whole call. A long poll through those nodes must also find
    the messages. (Forwarding tries the group's first member first, router.py.)"""
    leaders = wait_until(lambda: agreed_leaders(cluster), 30, "agreed queue group leaders")
    group, hung = next(((g, group_members(cluster, who, g)[0])
                        for g, (who, _) in sorted(leaders.items())
                        if group_members(cluster, who, g)[0] != who), (0, ""))
    assert hung, f"every group is led by its first member: {leaders}"
    members = group_members(cluster, hung, group)
    outside = [n for n in cluster.node_ids if n not in members]
    name = fifo_name_in_group(group, "hung")
    url = cluster.sqs(outside[0]).create_queue(
        QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    for node in outside:  # every forwarding node has reached the group before
        cluster.sqs(node, timeout=10).send_message(
            QueueUrl=url, MessageBody=f"warm-{node}", MessageGroupId="g",
            MessageDeduplicationId=f"warm-{node}")
    print(f"\ngroup {group}: members {members}, leader {leaders[group][0]}; stopping {hung}")

    acked: list[str] = [f"warm-{n}" for n in outside]
    slow: list[str] = []  # the sends that failed or took longer than the bound
    cluster.sigstop(hung)
    try:
        for node in outside:
            body = f"hung-{node}"
            started = time.monotonic()
            try:
                cluster.sqs(node, timeout=10).send_message(
                    QueueUrl=url, MessageBody=body, MessageGroupId="g",
                    MessageDeduplicationId=body)
                acked.append(body)
                result = "acknowledged"
            except Exception as exc:
                result = f"{error_code(exc)}: {exc}"
            took = time.monotonic() - started
            print(f"  send through {node} (outside the group) with {hung} stopped: {result} "
                  f"in {took:.2f} s")
            if result != "acknowledged" or took > PEER_TIMEOUT + 1.0:
                slow.append(f"{node}: {result} in {took:.2f} s")
        started = time.monotonic()
        received = drain_fifo(cluster, outside[-1], url, set(acked), timeout=15)
        print(f"drained {len(received)} through {outside[-1]} in "
              f"{time.monotonic() - started:.2f} s")
    finally:
        cluster.sigcont(hung)
    assert not slow, (
        f"with {hung} (a follower of group {group}) stopped, sends through nodes outside the "
        f"group must be acknowledged within {PEER_TIMEOUT + 1.0} s:\n" + "\n".join(slow))
    assert [b for b, _ in received] == acked, received
