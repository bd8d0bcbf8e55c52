"""`engine serve`: run one node in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import faulthandler
import ipaddress
import os
import sys
from pathlib import Path

from engine.bench.sizes import size_arg
from engine.cache.eviction import DEFAULT_POLICY, POLICIES
from engine.cluster.topology import TopologyError, parse_listen
from engine.config import (
    DEFAULT_DATA_DIR,
    DEFAULT_HTTP_LISTEN,
    DEFAULT_LISTEN,
    DEFAULT_REDIS_LISTEN,
    NodeConfig,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a node (single node by default)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                   help="data directory (default: ./engine-data)")
    p.add_argument("--listen", default=DEFAULT_LISTEN,
                   help="gRPC address to listen on (default: 127.0.0.1:50051)")
    p.add_argument("--http-listen", type=_http_address, metavar="HOST:PORT",
                   help="S3 REST endpoint (boto3, aws-cli: endpoint_url=http://HOST:PORT); "
                   "'off' turns it off; port 0 picks a free one, logged at start (default: "
                   f"{DEFAULT_HTTP_LISTEN}, skipped with a warning if taken; a cluster "
                   "node: its http_address in the topology file, else off)")
    p.add_argument("--s3-domain", action="append", default=[], metavar="DOMAIN",
                   help="serve virtual-hosted-style requests: a Host of BUCKET.DOMAIN names "
                   "the bucket, e.g. --s3-domain s3.localhost (repeatable; default: path "
                   "style only)")
    p.add_argument("--http-header-timeout", type=_non_negative, default=30.0, metavar="S",
                   help="an S3 request whose headers have not all arrived S seconds after "
                   "its first byte gets RequestTimeout and its connection closes (default "
                   "30; 0: never)")
    p.add_argument("--http-max-connections", type=_count, default=1024, metavar="N",
                   help="S3 connections held at once; beyond, an idle keep-alive one is "
                   "closed, else the new one is answered 503 SlowDown (default 1024; 0: no "
                   "cap)")
    p.add_argument("--website-listen", type=_http_address, metavar="HOST:PORT",
                   help="serve buckets' static websites (PutBucketWebsite) to anonymous "
                   "browsers on this address, e.g. 127.0.0.1:9080; port 0 picks a free "
                   "one, logged at start (default: off)")
    p.add_argument("--website-domain", action="append", default=[], metavar="DOMAIN",
                   help="a website Host of BUCKET.DOMAIN names the bucket, e.g. "
                   "--website-domain s3-website.localhost (repeatable; without one, a Host "
                   "that is a bucket's name, else path style: /BUCKET/KEY)")
    p.add_argument("--redis-listen", type=_http_address, metavar="HOST:PORT",
                   help="RESP (Redis) endpoint for redis-cli, redis-py and other Redis "
                   "clients; 'off' turns it off; port 0 picks a free one, logged at start "
                   f"(default: {DEFAULT_REDIS_LISTEN}, skipped with a warning if taken; a "
                   "cluster node: its redis_address in the topology file, else off)")
    p.add_argument("--redis-maxclients", type=_count, default=10000, metavar="N",
                   help="RESP connections held at once; beyond, a new one is told "
                   "'max number of clients reached' and closed (default 10000)")
    p.add_argument("--redis-proto-max-bulk-len", type=size_arg, default=512 * 1024 * 1024,
                   metavar="BYTES", help="largest RESP bulk string a client may send, "
                   "Redis's proto-max-bulk-len (default 512MiB)")
    p.add_argument("--memcached-listen", type=_http_address, metavar="HOST:PORT",
                   help="memcached text and meta protocol on this node's own cache share, "
                   "for pymemcache and other memcached clients; no authentication, so "
                   "loopback only unless --memcached-allow-remote; port 0 picks a free "
                   "one, logged at start (default: off)")
    p.add_argument("--memcached-allow-remote", action="store_true",
                   help="let --memcached-listen bind an address other than loopback: "
                   "anyone who reaches it reads and writes every memcached item, so only "
                   "on a private network (as ElastiCache for Memcached)")
    p.add_argument("--memcached-max-item", type=_memcached_item, default=1024 * 1024,
                   metavar="BYTES", help="largest memcached item (key + value + 48 "
                   "bytes), memcached's -I, from 1KiB to 8MiB (default 1MiB)")
    p.add_argument("--memcached-max-connections", type=_count, default=1024, metavar="N",
                   help="memcached connections held at once, memcached's -c (default "
                   "1024)")
    p.add_argument("--cluster", type=Path, metavar="FILE",
                   help="topology file: run as one node of that cluster (needs --node)")
    p.add_argument("--node", metavar="ID", help="this node's id in the topology file")
    p.add_argument("--peer-timeout", type=float, default=5.0,
                   help="deadline of node-to-node calls in seconds (default 5)")
    p.add_argument("--allow-reduced-tolerance", action="store_true",
                   help="accept a layout that cannot lose a whole AZ (fewer than 3 AZs)")
    p.add_argument("--scan-interval", type=float, default=300.0,
                   help="seconds between background healing passes (default 300)")
    p.add_argument("--scan-rate", type=float, default=200.0,
                   help="objects per second a healing pass may check (default 200)")
    p.add_argument("--day-seconds", type=_positive, default=86400.0, metavar="N",
                   help="length of one lifecycle day in seconds, for demos and tests: "
                   "drives lifecycle rules, restore delays and expiries (default 86400)")
    p.add_argument("--queue-partitions", type=int, default=6, metavar="N",
                   help="partitions of each new standard queue (default 6)")
    p.add_argument("--cache-bytes", type=size_arg, default=256 * 1024 * 1024, metavar="BYTES",
                   help="memory budget of this node's cache share, counting keys, values "
                   "and per-entry overhead, e.g. 64MiB (default 256MiB)")
    p.add_argument("--cache-eviction-policy", choices=POLICIES, default=DEFAULT_POLICY,
                   metavar="NAME", help="which keys go when the cache share is full, as "
                   "Redis's maxmemory-policy: " + ", ".join(POLICIES) + "; noeviction "
                   "refuses growing writes with OOM instead (default allkeys-lru; CONFIG SET "
                   "maxmemory-policy changes it at run time)")
    p.add_argument("--cache-replicas", type=int, choices=[0, 1], default=0,
                   help="1: give every cache slot a replica in another AZ (cluster only; "
                   "every node must agree) (default 0)")
    p.add_argument("--object-cache-max", type=size_arg, default=1024 * 1024, metavar="BYTES",
                   help="largest object the read cache keeps after a GET; 0 turns it off "
                   "(default 1MiB)")
    p.add_argument("--metrics-listen", type=_address, metavar="HOST:PORT",
                   help="serve Prometheus metrics over HTTP on this address, e.g. "
                   "127.0.0.1:9101; port 0 picks a free one, logged at start (default: off; "
                   "see docs/observability.md)")
    p.add_argument("--metrics-bucket-refresh", type=_non_negative, default=60.0,
                   metavar="SECONDS",
                   help="rescan object metadata for the per-bucket metrics at most this "
                   "often; 0 rescans on every scrape (default 60)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE",
                   help="serve clients over TLS only, with this PEM certificate (chain); "
                   "needs --tls-key (a TLS cluster's nodes default to their node certificate)")
    p.add_argument("--tls-key", type=Path, metavar="FILE",
                   help="the PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", type=Path, metavar="FILE",
                   help="require clients to present a certificate signed by this CA "
                   "(mutual TLS for clients)")
    p.add_argument("--manual-clock", action="store_true", help=argparse.SUPPRESS)
    # Tests only: the power-loss tests show with it that they would notice lost writes.
    p.add_argument("--unsafe-no-fsync", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--region", default="us-east-1",
                   help="the region in SigV4 credential scopes and ARNs (default us-east-1)")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve every call without credentials: throwaway demos on loopback "
                   "only (refused with any other listen address)")
    p.add_argument("--audit-log", type=Path, metavar="FILE",
                   help="write a JSON line per denied request and per mutating call to FILE "
                   "(see docs/iam.md, \"The audit log\"; default: off)")
    p.add_argument("--audit-log-max-bytes", type=_audit_size, default=100 * 1024 * 1024,
                   metavar="BYTES", help="rotate the audit log at this size, e.g. 10MiB "
                   "(default 100MiB)")
    p.add_argument("--audit-log-backups", type=_audit_backups, default=5, metavar="N",
                   help="rotated audit log files to keep: FILE.1 ... FILE.N (default 5)")
    p.add_argument("--stream-idle-timeout", type=_non_negative, default=60.0, metavar="S",
                   help="an upload stream (PutObject, UploadPart) that sends nothing for S "
                   "seconds fails with RequestTimeout (default 60; 0: never)")
    p.add_argument("--stream-total-timeout", type=_non_negative, default=3600.0,
                   metavar="S", help="an upload stream still open after S seconds fails "
                   "with RequestTimeout (default 3600; 0: never)")
    p.add_argument("--shutdown-grace", type=_non_negative, default=5.0, metavar="S",
                   help="on SIGTERM, calls in flight get S seconds to finish before they "
                   "are cut (default 5)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="DEBUG also logs every RPC served (method, status, ms)")
    p.add_argument("--log-format", default="text", choices=["text", "json"],
                   help="json: one JSON object per line with node and request_id "
                   "(default text)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.node import serve
    from engine.observability import json_logs

    # A crash in a native extension (grpc, lmdb, the hot path) then leaves every
    # thread's Python stack on stderr instead of a bare exit status.
    faulthandler.enable()
    json_logs.configure(args.log_level, args.log_format, args.node or "node-1")
    if (args.cluster is None) != (args.node is None):
        print("engine serve: --cluster and --node go together", file=sys.stderr)
        return 2
    problem = _auth_problem(args) or _tls_problem(args)
    if problem:
        print(f"engine serve: {problem}", file=sys.stderr)
        return 2
    http_listen, http_required = _http_listen(args)
    redis_listen, redis_required = _redis_listen(args)
    memcached_listen, problem = _memcached_listen(args)
    if problem:
        print(f"engine serve: {problem}", file=sys.stderr)
        return 2
    serve(NodeConfig(data_dir=args.data, listen=args.listen, node_id=args.node or "node-1",
                     http_listen=http_listen, http_listen_required=http_required,
                     s3_domains=tuple(d.lower().strip(".") for d in args.s3_domain),
                     http_header_timeout=args.http_header_timeout,
                     http_max_connections=args.http_max_connections,
                     website_listen=None if args.website_listen in (None, "off")
                     else args.website_listen,
                     website_domains=tuple(d.lower().strip(".") for d in args.website_domain),
                     redis_listen=redis_listen, redis_listen_required=redis_required,
                     redis_max_clients=args.redis_maxclients,
                     redis_proto_max_bulk_len=args.redis_proto_max_bulk_len,
                     memcached_listen=memcached_listen,
                     memcached_max_item=args.memcached_max_item,
                     memcached_max_connections=args.memcached_max_connections,
                     tls_cert=args.tls_cert, tls_key=args.tls_key,
                     tls_client_ca=args.tls_client_ca,
                     cluster_file=args.cluster, peer_timeout=args.peer_timeout,
                     allow_reduced_tolerance=args.allow_reduced_tolerance,
                     scan_interval=args.scan_interval, scan_rate=args.scan_rate,
                     day_seconds=args.day_seconds, manual_clock=args.manual_clock,
                     queue_partitions=args.queue_partitions, cache_bytes=args.cache_bytes,
                     cache_eviction_policy=args.cache_eviction_policy,
                     cache_replicas=args.cache_replicas,
                     object_cache_max=args.object_cache_max,
                     metrics_listen=args.metrics_listen,
                     metrics_bucket_refresh=args.metrics_bucket_refresh,
                     unsafe_no_fsync=args.unsafe_no_fsync, region=args.region,
                     insecure_no_auth=args.insecure_no_auth,
                     audit_log=args.audit_log, audit_log_max_bytes=args.audit_log_max_bytes,
                     audit_log_backups=args.audit_log_backups,
                     stream_idle_timeout=args.stream_idle_timeout,
                     stream_total_timeout=args.stream_total_timeout,
                     shutdown_grace=args.shutdown_grace))
    return 0


def _auth_problem(args: argparse.Namespace) -> str:
    """Why these options may not run (an empty string: they may)."""
    from engine.iam.bootstrap import BootstrapError, check_env

    try:
        check_env(os.environ)
    except BootstrapError as exc:
        return str(exc)
    if args.insecure_no_auth:
        hosts = [args.listen] + ([args.metrics_listen] if args.metrics_listen else [])
        hosts += [args.http_listen] if args.http_listen not in (None, "off") else []
        hosts += [args.website_listen] if args.website_listen not in (None, "off") else []
        hosts += [args.redis_listen] if args.redis_listen not in (None, "off") else []
        if args.cluster is not None or not all(_loopback(h) for h in hosts):
            return ("--insecure-no-auth serves everyone: it is refused for a cluster node "
                    "and for listen addresses other than loopback")
    return ""


def _tls_problem(args: argparse.Namespace) -> str:
    """Unusable TLS options or files, said before anything starts (an empty string: fine)."""
    from engine.cluster.tls import serving_tls
    from engine.cluster.topology import Topology

    try:
        topology = Topology.load(args.cluster) if args.cluster is not None else None
        serving_tls(args.tls_cert, args.tls_key, args.tls_client_ca, topology,
                    args.node or "node-1")
    except TopologyError as exc:
        return str(exc)
    return ""


def _http_listen(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(the S3 endpoint's address or None, whether failing to bind it stops the node):
    what --http-listen says, else a cluster node's http_address, else the default."""
    if args.http_listen == "off":
        return None, False
    if args.http_listen is not None:
        return args.http_listen, True
    if args.cluster is not None:
        from engine.cluster.topology import Topology

        address = Topology.load(args.cluster).node(args.node).http_address
        return address, address is not None
    return DEFAULT_HTTP_LISTEN, False


def _redis_listen(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(the RESP endpoint's address or None, whether failing to bind it stops the node),
    decided as for --http-listen: the flag, else a cluster node's redis_address, else the
    default."""
    if args.redis_listen == "off":
        return None, False
    if args.redis_listen is not None:
        return args.redis_listen, True
    if args.cluster is not None:
        from engine.cluster.topology import Topology

        address = Topology.load(args.cluster).node(args.node).redis_address
        return address, address is not None
    return DEFAULT_REDIS_LISTEN, False


def _memcached_listen(args: argparse.Namespace) -> tuple[str | None, str]:
    """(the memcached endpoint's address or None, why it may not run: empty when it may).
    memcached's protocol has no authentication, so an address other than loopback is
    served only when the operator says so with --memcached-allow-remote."""
    if args.memcached_listen in (None, "off"):
        return None, ""
    if not (args.memcached_allow_remote or _loopback(args.memcached_listen)):
        return None, (f"memcached has no authentication: --memcached-listen "
                      f"{args.memcached_listen} is not loopback; add "
                      "--memcached-allow-remote to serve it there (a private network only)")
    return args.memcached_listen, ""


def _http_address(text: str) -> str:
    return text if text == "off" else _address(text)


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _address(text: str) -> str:
    try:
        parse_listen(text)
    except TopologyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be zero or a positive number of seconds")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return int(text)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _audit_size(text: str) -> int:
    value = size_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError("the audit log rotates at a size of 1 byte or more")
    return value


def _memcached_item(text: str) -> int:
    """memcached's -I bounds, capped by the store's largest value (8 MiB)."""
    from engine.cache.store import MAX_VALUE_BYTES

    value = size_arg(text)
    if not 1024 <= value <= MAX_VALUE_BYTES:
        raise argparse.ArgumentTypeError("a memcached item limit is from 1KiB to 8MiB")
    return value


def _audit_backups(text: str) -> int:
    """At least 1: Python's RotatingFileHandler never rotates with 0 backups."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("keep 1 or more rotated audit log files")
    return int(text)
