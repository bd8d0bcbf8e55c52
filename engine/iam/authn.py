"""Authentication: from a verified signature to the Principal it speaks for.

Secrets are opened once and cached until the identity store changes (its generation):
the hot path is a dict lookup, the signature check and nothing else. A key that is
Inactive, deleted, or whose user is gone fails like an unknown key (InvalidAccessKeyId),
as AWS answers. A session token is checked whole on every use: its seal, its key id,
its expiry on the engine clock, and that its user or role still exists.

Last-used times are kept here and written to the store in batches (``flush_last_used``,
every minute), as AWS's are approximate: one Raft write per request would cost more than
the request.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from engine.clock import Clock
from engine.errors import EngineError
from engine.iam import names
from engine.iam.policy import SESSION, parse_policy
from engine.iam.principal import ROLE_SESSION, ROOT, USER, Principal
from engine.iam.sealing import Sealer
from engine.iam.signature import VerifiedRequest, verify_grpc, verify_request
from engine.iam.store.table import IdentityStore
from engine.iam.sts import Session, Tokens, invalid_token
from engine.sigv4.canonical import Headers, collect_headers, query_pairs

TOKEN_HEADER = "x-amz-security-token"


class Authenticator:
    def __init__(self, store: IdentityStore, sealer: Sealer, clock: Clock,
                 region: str, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        # A header signature carries the client's real time, so the 15-minute skew window
        # is measured against the real clock; what expires (session tokens, presigned URLs)
        # runs on the engine clock, which tests move.
        self.wall = wall
        self.sealer = sealer
        self.tokens = Tokens(sealer)
        self.clock = clock
        self.region = region
        self._generation = -1
        self._keys: dict[str, tuple[str, Principal] | None] = {}
        self._used: dict[str, tuple[float, str]] = {}

    def now(self) -> float:
        return self.clock.now_ns() / 1e9

    # -- long-term keys --------------------------------------------------------------------

    def _fresh(self) -> None:
        if self._generation != self.store.generation:
            self._generation = self.store.generation
            self._keys.clear()

    def key(self, key_id: str) -> tuple[str, Principal] | None:
        """The secret and principal of an active long-term key."""
        self._fresh()
        if key_id not in self._keys:
            self._keys[key_id] = self._load(key_id)
        return self._keys[key_id]

    def _load(self, key_id: str) -> tuple[str, Principal] | None:
        record = self.store.get("key", key_id)
        account = self.store.account()
        if record is None or account is None or record["status"] != "Active":
            return None
        try:
            secret = self.sealer.open(bytes.fromhex(record["sealed"]), key_id)
        except ValueError:
            return None  # sealed by another key: not usable here
        if not record["user"]:
            return secret, Principal(ROOT, names.root_arn(account["id"]), account["id"],
                                     unique_id=account["id"], access_key=key_id)
        user = self.store.get("user", record["user"])
        if user is None:
            return None
        return secret, Principal(USER, user["arn"], account["id"], name=user["name"],
                                 unique_id=user["id"], access_key=key_id)

    def root(self) -> Principal:
        """The account root, for a peer node's call authenticated by the cluster secret."""
        account = self.store.account()
        if account is None:
            raise EngineError("ServiceUnavailable", "the account is not bootstrapped yet")
        return Principal(ROOT, names.root_arn(account["id"]), account["id"],
                         unique_id=account["id"])

    # -- sessions --------------------------------------------------------------------------

    def session(self, token: str, key_id: str) -> tuple[str, Principal]:
        s = self.tokens.open(token, key_id, self.now())
        return s.secret, self.session_principal(s)

    def session_principal(self, s: Session) -> Principal:
        if s.kind == ROOT:
            account = self.store.account()
            if account is None or account["id"] != s.account:
                raise invalid_token()
            return Principal(ROOT, names.root_arn(s.account), s.account,
                             unique_id=s.account, access_key=s.access_key_id,
                             expires=s.expires)
        kind = self.store.get("user" if s.kind == USER else "role", s.name)
        if kind is None or kind["id"] != s.unique_id:
            raise invalid_token()
        policy = parse_policy(s.policy, SESSION) if s.policy else None
        if s.kind == USER:
            return Principal(USER, kind["arn"], s.account, name=s.name, unique_id=s.unique_id,
                             access_key=s.access_key_id, expires=s.expires)
        return Principal(ROLE_SESSION, names.session_arn(s.account, s.name, s.session_name),
                         s.account, name=s.name, unique_id=f"{s.unique_id}:{s.session_name}",
                         access_key=s.access_key_id, session_name=s.session_name,
                         session_policy=policy, expires=s.expires)

    # -- a signed call ---------------------------------------------------------------------

    def grpc(self, method: str, metadata: list[tuple[str, str | bytes]], message: bytes | None,
             service: str) -> Principal | None:
        """The principal of a signed gRPC call, None when it carries no signature."""
        token = next((str(v) for k, v in metadata if k == TOKEN_HEADER), None)
        found: dict[str, tuple[str, Principal]] = {}

        def lookup(key_id: str) -> str | None:
            if token is not None:
                found[key_id] = self.session(token, key_id)
            else:
                entry = self.key(key_id)
                if entry is None:
                    return None
                found[key_id] = entry
            return found[key_id][0]

        verified = verify_grpc(method, metadata, service=service, region=self.region,
                               now=self.wall(), lookup=lookup, message=message)
        if verified is None:
            return None
        return self._accepted(verified, found[verified.access_key_id][1], service)

    def http(self, method: str, raw_path: str, raw_query: str, headers: Headers, *,
             service: str = "s3", resource_path: str | None = None,
             payload_hash: str | None = None) -> tuple[Principal, VerifiedRequest] | None:
        """The principal of a signed HTTP request (header or query signature) and how it
        was signed, None when it carries no signature. A header signature is checked
        against the real clock (its 15-minute window); a presigned link's lifetime runs
        on the engine clock, as session expiries do. ``payload_hash``: the body's hex
        SHA-256, for services whose clients need not declare it (SQS's JSON)."""
        by_name = collect_headers(headers)
        token = next(iter(by_name.get(TOKEN_HEADER, ())), None)
        if token is None and "authorization" not in by_name:
            token = next((v for k, v in query_pairs(raw_query)
                          if k.lower() == TOKEN_HEADER), None)
        found: dict[str, tuple[str, Principal]] = {}

        def lookup(key_id: str) -> str | None:
            if token is not None:
                found[key_id] = self.session(token, key_id)
            else:
                entry = self.key(key_id)
                if entry is None:
                    return None
                found[key_id] = entry
            return found[key_id][0]

        now = self.wall() if "authorization" in by_name else self.now()
        verified = verify_request(method, raw_path, raw_query, headers, service=service,
                                  region=self.region, now=now, lookup=lookup,
                                  resource_path=resource_path, payload_hash=payload_hash)
        if verified is None:
            return None
        return self._accepted(verified, found[verified.access_key_id][1], service), verified

    def _accepted(self, verified: VerifiedRequest, principal: Principal,
                  service: str) -> Principal:
        self._used[verified.access_key_id] = (self.now(), service)  # formatted at flush
        return principal

    async def flush_last_used(self) -> None:
        """Write the keys used since the last flush (long-term keys only)."""
        used = {k: {"date": dt.datetime.fromtimestamp(at, dt.UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"), "service": service, "region": self.region}
                for k, (at, service) in self._used.items() if k.startswith("AKIA")}
        self._used.clear()
        if used:
            await self.store.change({"op": "touch_keys", "now": "", "used": used})
