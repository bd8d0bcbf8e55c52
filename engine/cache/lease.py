"""Who may write a slot range: its primary while it holds a lease from the range's
replica, the replica once that lease has run out (docs/cache.md, "Leases and hand-back").

Without this, a primary that stopped answering (killed, paused, cut off) and came back
served its own, older copy: writes the replica took in its place were lost or hidden.

The protocol, per (primary P, replica R) pair:

* P calls ``CacheNode.Lease`` on R every ``RENEW_SECONDS``. R grants ``LEASE_SECONDS``
  from when it received the call; P counts its lease from when it *sent* the call, minus
  ``MARGIN_SECONDS``, so P's lease always ends before R thinks it does.
* P serves its slots only while its lease is valid. It also serves when R has failed to
  answer ``ALONE_AFTER`` renewals in a row (R is down: nobody else can be writing).
* R takes a write for P's slots (a failover call) only once P's lease has run out on R's
  clock; until then it waits, and answers ``TryAgain`` if P renews meanwhile (P is alive:
  the caller should go back to it). Reads on R never wait.
* R remembers every key it wrote for P (its *dirty* set). P's next successful renewal
  receives their current states, in pages, before P serves again: the hand-back. A
  primary that has just started (empty) asks for every key of its slots instead.
* When R starts taking writes for P it draws a new *token*. P's replication copies carry
  the token of its last lease; once R has written for P it refuses copies with another
  one, so a copy P queued before it stopped cannot overwrite what R wrote since.

Both sides use the event loop's monotonic clock: leases assume the two clocks run at the
same rate, not that they agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from engine.v1 import cache_records_pb2 as rec

log = logging.getLogger("engine.cache")

LEASE_SECONDS = 2.0
MARGIN_SECONDS = 0.2  # P stops this much before R starts
RENEW_SECONDS = 0.5
RENEW_TIMEOUT = 0.5  # a renewal that takes longer counts as a failure
ALONE_AFTER = 2  # failed renewals in a row before P serves without its replica
PAGE_BYTES = 4 * 1024 * 1024  # a hand-back page stays well inside the 16 MiB limit
POLL_SECONDS = 0.05  # how often a waiting failover write looks at the lease again


def take_page(pending: deque[rec.CacheKeyState]) -> list[rec.CacheKeyState]:
    """The next states of ``pending`` up to PAGE_BYTES (at least one)."""
    out: list[rec.CacheKeyState] = []
    size = 0
    while pending and (not out or size < PAGE_BYTES):
        state = pending.popleft()
        out.append(state)
        size += len(state.key) + len(state.value)
    return out


def new_token() -> int:
    return random.getrandbits(63) or 1


class PrimaryLease:
    """P's side: may this node serve the slots whose replica is ``replica``?"""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.valid_until = 0.0
        self.failures = 0
        self.full = True  # nothing learnt from the replica since this process started
        self.token = 0  # R's token, sent with every copy to R
        self.renewed = asyncio.Event()  # set whenever a renewal attempt finishes

    def serving(self, now: float) -> bool:
        return now < self.valid_until or self.failures >= ALONE_AFTER

    def granted(self, sent_at: float, token: int) -> None:
        self.valid_until = sent_at + LEASE_SECONDS - MARGIN_SECONDS
        self.failures = 0
        self.full = False
        self.token = token

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= ALONE_AFTER:
            # Serving alone from here on: what this node holds is what there is, and a
            # later full copy from the replica would overwrite what it writes meanwhile.
            self.full = False


class StandIn:
    """R's side, for one primary: its lease as R sees it, and what R wrote in its place."""

    def __init__(self, primary: str, now: float | None = None) -> None:
        self.primary = primary
        # A node that has just started does not know whether P holds a lease: assume one.
        self.lease_until = (time.monotonic() if now is None else now) + LEASE_SECONDS
        self.token = new_token()
        self.standing = False  # has taken writes for P since the last hand-back
        self._taken_over = False  # ever, in this process
        self._dirty: dict[bytes, int] = {}  # store key -> sequence number of its write
        self._seq = 0
        self._pending: deque[rec.CacheKeyState] = deque()
        self._pending_seq = 0

    def renew(self, now: float) -> None:
        self.lease_until = now + LEASE_SECONDS

    def take_over(self) -> None:
        """P's lease is over and R is about to write for it."""
        if not self.standing:
            self.standing = True
            self._taken_over = True
            self.token = new_token()

    def accepts(self, token: int) -> bool:
        """Whether a copy from P sent under ``token`` may be installed. Until this node
        first writes for P any token will do: P may not have renewed since this node
        started, and nothing P sends can be older than what this node holds."""
        return not self._taken_over or token == self.token

    def wrote(self, keys: Iterable[bytes]) -> None:
        for key in keys:
            self._seq += 1
            self._dirty.pop(key, None)
            self._dirty[key] = self._seq

    def dirty_keys(self) -> list[bytes]:
        return list(self._dirty)

    def answer(self, request: rec.CacheLeaseRequest, now: float,
               snapshot: Callable[[list[bytes]], list[rec.CacheKeyState]],
               all_keys: Callable[[], list[bytes]]) -> rec.CacheLeaseReply:
        """Renew P's lease and return the next page of its hand-back. ``snapshot`` gives
        the current states of store keys; ``all_keys`` the stored keys of P's slots."""
        self.renew(now)  # before the snapshot: no write for P can follow it
        if request.start:
            keys = self.dirty_keys()
            if request.full:
                keys = list(dict.fromkeys(all_keys() + keys))
            self.begin(snapshot(keys))
        states, more = self.page(snapshot)
        return rec.CacheLeaseReply(keys=states, more=more, token=self.token)

    def begin(self, states: list[rec.CacheKeyState]) -> None:
        """Start a hand-back of ``states``, which cover every write up to now."""
        self._pending = deque(states)
        self._pending_seq = self._seq

    def page(self, snapshot: Callable[[list[bytes]], list[rec.CacheKeyState]]
             ) -> tuple[list[rec.CacheKeyState], bool]:
        """The next page of the hand-back, and whether more follows. Once the pages are
        sent, keys written meanwhile (only possible if P's lease ran out mid-way) start a
        further round, so the last page leaves R with nothing P has not seen."""
        out = take_page(self._pending)
        if self._pending:
            return out, True
        for key in [k for k, seq in self._dirty.items() if seq <= self._pending_seq]:
            del self._dirty[key]
        if self._dirty:
            self.begin(snapshot(list(self._dirty)))
            return out, True
        self.standing = False
        return out, False

    async def wait_expired(self, now: Callable[[], float], budget: float) -> bool:
        """Wait (at most ``budget`` seconds) for P's lease to run out: True once it has;
        False if P renewed it meanwhile or the budget ran out first."""
        first = self.lease_until
        give_up = now() + budget
        while (t := now()) < self.lease_until:
            if self.lease_until != first or t >= give_up:
                return False
            await asyncio.sleep(min(POLL_SECONDS, self.lease_until - t))
        return True


LeaseCall = Callable[[str, rec.CacheLeaseRequest], Awaitable[rec.CacheLeaseReply]]


class LeaseKeeper:
    """P's side for all its replicas: renews each lease in the background, installs the
    hand-backs, and lets a call wait briefly for a lease that has run out."""

    def __init__(self, node_id: str, replicas: Iterable[str], call: LeaseCall,
                 install: Callable[[list[rec.CacheKeyState]], None],
                 now: Callable[[], float] = time.monotonic) -> None:
        self.node_id = node_id
        self.leases = {r: PrimaryLease(r) for r in replicas}
        self._call = call
        self._install = install
        self._now = now
        self._kick = {r: asyncio.Event() for r in self.leases}

    def serving(self, replica: str) -> bool:
        return self.leases[replica].serving(self._now())

    async def ensure(self, replica: str, timeout: float) -> bool:
        """Whether this node may serve ``replica``'s ranges, renewing at once if not."""
        lease = self.leases[replica]
        give_up = self._now() + timeout
        while not lease.serving(self._now()):
            left = give_up - self._now()
            if left <= 0:
                return False
            self._kick[replica].set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lease.renewed.wait(), left)
        return True

    async def run(self) -> None:
        await asyncio.gather(*(self._renew_forever(r) for r in self.leases))

    async def _renew_forever(self, replica: str) -> None:
        kick = self._kick[replica]
        while True:
            kick.clear()
            await self.renew(replica)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), RENEW_SECONDS)

    async def renew(self, replica: str) -> None:
        """One renewal: every page of the hand-back installed, then the lease holds."""
        lease = self.leases[replica]
        try:
            start = True
            while True:
                sent = self._now()
                reply = await self._call(replica, rec.CacheLeaseRequest(
                    primary=self.node_id, start=start, full=lease.full))
                self._install(list(reply.keys))
                if not reply.more:
                    break
                start = False
            lease.granted(sent, reply.token)
        except Exception as exc:  # any failure to renew is a failed renewal
            log.debug("cache lease from %s not renewed: %r", replica, exc)
            lease.failed()
        finally:
            done, lease.renewed = lease.renewed, asyncio.Event()
            done.set()
