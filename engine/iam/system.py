"""Identity and access for one node: the store's replica and everything built on it.

The assembly builds one of these per node (the identity machine rides in the meta group,
which every node is a member of) and hands it to every endpoint; ``start`` bootstraps the
account root (engine/iam/bootstrap.py) once the group can commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from engine.clock import Clock
from engine.cluster.consensus.group import ConsensusGroup
from engine.iam.authn import Authenticator
from engine.iam.authz import Authorizer
from engine.iam.bootstrap import bootstrap_root
from engine.iam.cache_users import CacheUsers
from engine.iam.sealing import Sealer
from engine.iam.service import IamService
from engine.iam.service.cache_users import ElastiCacheService
from engine.iam.service.context import iso
from engine.iam.service.sts import StsService
from engine.iam.store.table import IdentityStore

log = logging.getLogger("engine.iam")
LAST_USED_SECONDS = 60.0


class IdentitySystem:
    def __init__(self, group: ConsensusGroup, sealer: Sealer, clock: Clock, region: str,
                 data_dir: Path) -> None:
        self.store = IdentityStore(group)
        self.sealer = sealer
        self.clock = clock
        self.region = region
        self.data_dir = data_dir
        self.authn = Authenticator(self.store, sealer, clock, region)
        self.authz = Authorizer(self.store)
        # ElastiCache RBAC users: their API, and the AUTH/permission checks of RESP
        self.elasticache = ElastiCacheService(self.store, clock, region)
        self.cache_users = CacheUsers(self.store, self.authn, self.authz, region,
                                      self.account)
        self.iam = IamService(self.store, sealer, clock)
        self.sts = StsService(self.store, self.authn.tokens, self.authz, clock)
        self.account_id = ""
        # Told the account once it is known (queue URLs and ARNs carry it).
        self.on_account: list[Callable[[str, str], None]] = []

    async def start(self, announce: Callable[[str], None] = print) -> None:
        account = await bootstrap_root(self.store, self.sealer, self.data_dir,
                                       iso(self.clock.now_ns() / 1e9), announce=announce)
        self.account_id = account["id"]
        for listener in self.on_account:
            listener(self.account_id, self.region)

    def account(self) -> str:
        """The account id (the store's, once bootstrapped)."""
        if not self.account_id:
            record = self.store.account()
            self.account_id = record["id"] if record else ""
        return self.account_id

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(LAST_USED_SECONDS)
            with contextlib.suppress(Exception):
                await self.authn.flush_last_used()
