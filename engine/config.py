"""Node configuration: what `engine serve` was told, in one typed place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_HTTP_LISTEN = "127.0.0.1:9000"  # the S3 REST endpoint of `engine serve`
DEFAULT_REDIS_LISTEN = "127.0.0.1:6379"  # the RESP (Redis) endpoint of `engine serve`
DEFAULT_DATA_DIR = Path("engine-data")
MIB = 1024 * 1024


@dataclass(frozen=True)
class StorageConfig:
    """Object layout knobs; the defaults are the ones DESIGN.md documents."""

    stripe_size: int = 1 * MIB
    inline_threshold: int = 128 * 1024  # objects up to this size live in their record
    max_object_size: int = 5 * 1024 * MIB  # S3's single-PUT ceiling
    lmdb_map_size: int = 64 * 1024 * MIB  # virtual reservation, not disk use


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path = DEFAULT_DATA_DIR
    listen: str = DEFAULT_LISTEN
    node_id: str = "node-1"
    zone: str = "local-a"
    storage: StorageConfig = field(default_factory=StorageConfig)
    grpc_workers: int = 16  # threads for blocking disk work
    cluster_file: Path | None = None  # a topology file: run as one node of that cluster
    peer_timeout: float = 5.0  # deadline of every node-to-node call, in seconds
    allow_reduced_tolerance: bool = False  # accept layouts that cannot lose a whole AZ
    scan_interval: float = 300.0  # seconds between background healing passes
    scan_rate: float = 200.0  # objects per second a background pass may check
    day_seconds: float = 86400.0  # one lifecycle day (rules, restore delays, expiries)
    manual_clock: bool = False  # tests: the engine clock moves only via Admin.AdvanceClock
    queue_partitions: int = 6  # partitions of each new standard queue
    cache_bytes: int = 256 * MIB  # this node's share of the cache tier (keys+values+overhead)
    cache_eviction_policy: str = "allkeys-lru"  # Redis's maxmemory-policy (cache/eviction.py)
    cache_replicas: int = 0  # 1: every cache slot also has a replica in another AZ
    object_cache_max: int = 1 * MIB  # largest object GET body the read cache keeps; 0: off
    metrics_listen: str | None = None  # HOST:PORT of the Prometheus endpoint; None: off
    metrics_bucket_refresh: float = 60.0  # seconds a per-bucket metadata scan is reused
    # Tests only: the consensus store skips fsync, so a power loss loses acknowledged
    # writes. The power-loss tests use it to show they would notice.
    unsafe_no_fsync: bool = False
    region: str = "us-east-1"  # SigV4 credential scopes and ARNs name it
    # Throwaway demos only: no authentication or authorization at all (loopback only).
    insecure_no_auth: bool = False
    # engine/api/audit.py: a JSON line per denied request and per mutating call, in this
    # file, rotated at audit_log_max_bytes keeping audit_log_backups old files; None: off.
    audit_log: Path | None = None
    audit_log_max_bytes: int = 100 * MIB
    audit_log_backups: int = 5
    # TLS on the client port (engine/cluster/tls.py): certificate and key files; with a
    # client CA, clients must present a certificate it signed. A TLS cluster's peers use
    # the topology's [tls] material instead.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # Client-streaming uploads (PutObject, UploadPart) fail with S3's RequestTimeout after
    # this many seconds without a message, or this long in all; 0: no limit.
    stream_idle_timeout: float = 60.0
    stream_total_timeout: float = 3600.0
    # SIGTERM: seconds calls in flight (gRPC and HTTP) get to finish before they are cut.
    shutdown_grace: float = 5.0
    # The S3 REST endpoint (engine/api/s3/): HOST:PORT, None: off. Required: the
    # operator chose the address, so failing to bind it stops the node; otherwise (the
    # default address) a taken port is logged and the node runs without it.
    http_listen: str | None = None
    http_listen_required: bool = False
    # Virtual-hosted-style addressing: a Host of <bucket>.<domain> names the bucket.
    s3_domains: tuple[str, ...] = ()
    # Slow or abusive HTTP clients (engine/api/s3/connections.py): seconds a request's
    # header section may take to arrive, and the most connections the endpoint holds
    # (beyond: 503 SlowDown); 0 turns either off.
    http_header_timeout: float = 30.0
    http_max_connections: int = 1024
    # The static website endpoint (engine/api/s3/website/): HOST:PORT, None: off; a Host
    # of <bucket>.<domain> names the site's bucket (else the Host itself, else the path).
    website_listen: str | None = None
    website_domains: tuple[str, ...] = ()
    # The RESP (Redis) endpoint (engine/api/resp/): HOST:PORT, None: off; required as
    # http_listen_required. Redis's maxclients and proto-max-bulk-len.
    redis_listen: str | None = None
    redis_listen_required: bool = False
    redis_max_clients: int = 10000
    redis_proto_max_bulk_len: int = 512 * MIB
    # The memcached endpoint (engine/api/memcached/): HOST:PORT, None: off. No
    # authentication exists in memcached's protocol: loopback unless the operator says
    # otherwise (engine serve --memcached-allow-remote). Item size limit and connections.
    memcached_listen: str | None = None
    memcached_max_item: int = 1 * MIB
    memcached_max_connections: int = 1024

    @property
    def lifecycle_interval(self) -> float:
        """Seconds between lifecycle passes: a tenth of a day, within [0.2 s, 60 s]."""
        return min(60.0, max(0.2, self.day_seconds / 10))
