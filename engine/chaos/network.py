"""Network partitions between the harness's nodes on one machine: nftables on loopback.

Each node of a harness cluster is a :class:`NodeIdentity`: its own 127.0.0.x address
(where all its endpoints listen) and its own uid (the processes run under it, see
:meth:`NodeIdentity.command`). :class:`Network` turns faults (a symmetric ``partition``, an
asymmetric ``cut``, ``isolate``, Jepsen's ``bridge``) into a set of blocked directed links
and installs them as one nftables table, ``inet engine_chaos``, that ``close()`` deletes.

Why uids and conntrack marks. The receiver of a packet is easy to name, the sender is
not: a node's outgoing connections (its gRPC channels to its peers) leave from 127.0.0.1
whatever address it listens on. Three designs were weighed:

- a fault-injecting TCP proxy per directed link needs each node to see its peers at
  proxy addresses, but every node reads the same topology file
  (engine/cluster/topology.py), so that needs an engine change; a proxy also turns drops
  into resets and closes, which is not what a partition looks like;
- cgroup v2 ``socket cgroupv2`` rules: nft resolves the cgroup path under
  /sys/fs/cgroup, but here (and on hybrid hosts) cgroup2 is mounted at
  /sys/fs/cgroup/unified, so the rule cannot be loaded;
- a uid per node, matched with ``meta skuid``: every socket records the uid of the
  process that made it (an accepted socket, its listener's), so on the output hook the
  sending node of any packet that has a socket is known. The chosen design.

A packet's receiver: in a connection's original direction, the node whose address it is
sent to; in the reply direction it goes back to 127.0.0.1, so the connection carries a
conntrack mark, the uid of the node that opened it, set by its first packet. So
``src -> dst`` is dropped as two set lookups: original direction with mark ``uid(src)`` to
``dst``'s address, and reply direction with mark ``uid(dst)`` from ``src``'s address (this
also catches packets without a socket, such as the kernel's resets).

That needs conntrack to see every connection from its SYN: the kernel tracks connections
only while some rule uses conntrack, and a connection it first sees mid-stream gets its
direction from whichever packet passes first (a dropped one never counts). So the table
lives as long as the ``Network``, with its marking rule from the start: open the
``Network`` before the nodes start. ``heal()`` empties the two sets of blocked links
(every drop rule is gone; only the marking, which drops nothing, stays) and ``close()``
deletes the table.

Only loopback traffic whose ends are harness nodes is touched: a packet from any other
process (the test or the harness itself as a client) carries no node's mark. Node
processes need root to start (setpriv) and the table needs CAP_NET_ADMIN; one
``Network`` at a time holds the machine-wide lock, and removes a table a dead owner left
behind when it takes it. ``close()``, the context manager's exit and an atexit hook
delete the table, so a run that ends, fails or is interrupted leaves no rule behind (only
SIGKILL of the harness could, and the next ``Network`` removes it).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

TABLE = "engine_chaos"
FAMILY = "inet"
BASE_UID = 61700  # node i runs as BASE_UID + i: above regular users, below nobody (65534)
FIRST_HOST = 2  # node i listens on 127.0.0.(FIRST_HOST + i); 127.0.0.1 is everyone's
LOCK_FILE = Path(tempfile.gettempdir()) / "engine_chaos.lock"
# What a node process may still do as its own uid: read and write the harness's files
# (pytest's tmp dirs are 0700 root) as root could. Only the socket owner changes.
NODE_CAPS = "+dac_override,+dac_read_search,+fowner"

Link = tuple[str, str]  # (src, dst): packets from src's processes to dst's are dropped


class NetworkError(RuntimeError):
    """nft failed, or the machine cannot run partitions (not root, no nft)."""


@dataclass(frozen=True)
class NodeIdentity:
    """A node as the network sees it: the address it listens on, the uid it runs as."""

    name: str
    host: str
    uid: int

    def __post_init__(self) -> None:
        address = ipaddress.ip_address(self.host)
        if address.version != 4 or not address.is_loopback or self.host == "127.0.0.1":
            raise ValueError(f"{self.name}: host {self.host!r} must be a 127.0.0.x address "
                             "other than 127.0.0.1 (which every outgoing connection uses)")
        if not 0 < self.uid < 65534:
            raise ValueError(f"{self.name}: uid {self.uid} must be in 1..65533")

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as this node's uid (and gid), keeping the file access of root.

        setpriv (util-linux) rather than ``Popen(user=...)``: the node must still read the
        harness's root-owned files (pytest's 0700 tmp dirs, the 0600 topology file, even
        the Python under /root/.pyenv here), so a few file capabilities go along as
        ambient ones.
        """
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                f"--inh-caps={NODE_CAPS}", f"--ambient-caps={NODE_CAPS}", "--", *argv]


def loopback_identities(names: Iterable[str], first_host: int = FIRST_HOST,
                        base_uid: int = BASE_UID) -> list[NodeIdentity]:
    """Node i of ``names``: 127.0.0.(first_host + i), uid base_uid + i."""
    listed = list(names)
    if first_host < 2 or first_host + len(listed) - 1 > 254:
        raise ValueError(f"{len(listed)} nodes do not fit in 127.0.0.{first_host}..254")
    return [NodeIdentity(name, f"127.0.0.{first_host + i}", base_uid + i)
            for i, name in enumerate(listed)]


def partition_links(nodes: Iterable[str], groups: Iterable[Iterable[str]]) -> set[Link]:
    """Both directions between every two of the ``groups``. A node in no group keeps all
    its links (so two groups and one unnamed node make a bridge)."""
    known = set(nodes)
    seen: set[str] = set()
    parts: list[set[str]] = []
    for group in groups:
        members = set(group)
        if unknown := members - known:
            raise ValueError(f"unknown node(s) {sorted(unknown)} (nodes: {sorted(known)})")
        if twice := members & seen:
            raise ValueError(f"node(s) {sorted(twice)} in more than one group")
        seen |= members
        parts.append(members)
    return {(a, b) for i, one in enumerate(parts) for j, other in enumerate(parts)
            if i != j for a in one for b in other}


def render_table(identities: Sequence[NodeIdentity]) -> str:
    """The nft script that makes the table anew with no link blocked: the marking rule
    and the two (empty) sets of blocked links the drop rules look up."""
    marks = ", ".join(f"{n.uid} : {n.uid}" for n in identities)
    return "\n".join([
        f"table {FAMILY} {TABLE} {{}}",
        f"delete table {FAMILY} {TABLE}",
        f"table {FAMILY} {TABLE} {{",
        # (opener's uid, receiver's address): what the opener sends on its connections
        "  set sent { typeof ct mark . ip daddr; }",
        # (opener's uid, answering node's address): what the answering node sends back
        "  set answered { typeof ct mark . ip saddr; }",
        "  chain output {",
        "    type filter hook output priority filter; policy accept;",
        '    oifname != "lo" accept',
        f"    ct direction original ct mark 0 ct mark set meta skuid map {{ {marks} }}",
        "    ct direction original ct mark . ip daddr @sent counter drop",
        "    ct direction reply ct mark . ip saddr @answered counter drop",
        "  }",
        "}",
        "",
    ])


def render_links(identities: Sequence[NodeIdentity], links: Iterable[Link]) -> str:
    """The nft script that makes the sets exactly this set of blocked links (loaded in
    one transaction, so no packet sees a half-made partition)."""
    by_name = {n.name: n for n in identities}
    links = sorted(links)
    sent = [f"{by_name[s].uid} . {by_name[d].host}" for s, d in links]
    answered = [f"{by_name[d].uid} . {by_name[s].host}" for s, d in links]
    lines = [f"flush set {FAMILY} {TABLE} sent", f"flush set {FAMILY} {TABLE} answered"]
    if links:
        lines += [f"add element {FAMILY} {TABLE} sent {{ {', '.join(sent)} }}",
                  f"add element {FAMILY} {TABLE} answered {{ {', '.join(answered)} }}"]
    return "\n".join([*lines, ""])


def nft_available() -> str | None:
    """Why partitions cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "network partitions need root (nftables rules, node processes under own uids)"
    for tool, package in (("nft", "nftables"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package}; " \
                   "deploy/ci/system-packages.sh does)"
    return None


class Network:
    """The blocked links between a harness's nodes; each fault adds links (a grudge, in
    Jepsen's words), ``heal()`` removes them all. Every call is idempotent and leaves the
    machine's rules matching ``blocked`` exactly. Open it before the nodes start (see the
    module docstring)."""

    def __init__(self, identities: Iterable[NodeIdentity], lock_timeout: float = 60.0,
                 lock_file: Path = LOCK_FILE) -> None:
        self.identities = list(identities)
        self._by_name = {n.name: n for n in self.identities}
        for what, values in (("name", [n.name for n in self.identities]),
                             ("host", [n.host for n in self.identities]),
                             ("uid", [n.uid for n in self.identities])):
            if len(set(values)) != len(values):
                raise ValueError(f"node identities share a {what}: {values}")
        if (reason := nft_available()) is not None:
            raise NetworkError(reason)
        self.blocked: frozenset[Link] = frozenset()
        self._lock = _take_lock(lock_file, lock_timeout)
        atexit.register(self.close)
        try:  # replaces a dead owner's leftovers: we hold the lock now
            _nft(render_table(self.identities))
        except BaseException:
            self.close()
            raise

    # -- faults --------------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Symmetric: no traffic between any two groups."""
        self._block(partition_links(self._by_name, groups))

    def cut(self, src: str, dst: str) -> None:
        """Asymmetric: packets from ``src``'s processes to ``dst``'s are dropped; ``dst``
        still reaches ``src`` (its packets arrive, its connections' replies do not)."""
        self._check(src, dst)
        if src == dst:
            raise ValueError(f"cannot cut {src} from itself")
        self._block({(src, dst)})

    def isolate(self, node: str) -> None:
        """``node`` alone on one side, every other node on the other."""
        self._check(node)
        self.partition([[node], [n for n in self._by_name if n != node]])

    def bridge(self, a: Iterable[str], b: Iterable[str], bridge_node: str) -> None:
        """Two halves that cannot reach each other but both reach ``bridge_node``."""
        a, b = list(a), list(b)
        if bridge_node in a or bridge_node in b:
            raise ValueError(f"the bridge {bridge_node} must be in neither half")
        self._check(bridge_node)
        self.partition([a, b])

    def heal(self) -> None:
        """Every link restored: no drop rule matches any more."""
        self._apply(set())

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Delete the table and release the machine-wide lock; safe to call twice."""
        if self._lock is None:
            return
        try:
            _nft(_DELETE)
            self.blocked = frozenset()
        finally:
            atexit.unregister(self.close)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Network:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- nft -----------------------------------------------------------------------------

    def _check(self, *nodes: str) -> None:
        for node in nodes:
            if node not in self._by_name:
                raise ValueError(f"unknown node {node!r} (nodes: {sorted(self._by_name)})")

    def _block(self, links: set[Link]) -> None:
        self._apply(self.blocked | links)

    def _apply(self, links: set[Link] | frozenset[Link]) -> None:
        if self._lock is None:
            raise NetworkError("this Network is closed")
        _nft(render_links(self.identities, links))
        self.blocked = frozenset(links)


_DELETE = f"table {FAMILY} {TABLE} {{}}\ndelete table {FAMILY} {TABLE}\n"


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True,
                          check=False, timeout=30)
    if done.returncode != 0:
        raise NetworkError(f"nft failed ({done.returncode}): {done.stderr.strip()}")


def _take_lock(path: Path, timeout: float) -> IO[bytes]:
    """The machine-wide lock (one harness's rules at a time), waiting up to ``timeout``."""
    f = path.open("ab")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise NetworkError(f"another harness holds {path} (its partitions are "
                                   f"running); waited {timeout}s") from None
            time.sleep(0.1)  # waiting on another process, not on our own clock
        except BaseException:
            with contextlib.suppress(OSError):
                f.close()
            raise
