"""The account's S3 settings in the identity store: S3 Control's Block Public Access.

Account-level Block Public Access is one replicated setting of the account, beside its
users and keys, so a change is seen by every node as fast as identity changes are.
Never set, it is on (all four flags), as the engine's accounts start; deleted, the
account has none and GetPublicAccessBlock answers NoSuchPublicAccessBlockConfiguration.
Reads are local and cached until the store's generation moves: every S3 request asks.
"""

from __future__ import annotations

from engine.iam.public_access import PublicAccessBlock
from engine.iam.store import state
from engine.iam.store.table import IdentityStore

SETTING = "s3-public-access-block"
ACCOUNT_DEFAULT = PublicAccessBlock()


class S3AccountSettings:
    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        self._generation = -1
        self._account_id = ""
        self._block: PublicAccessBlock | None = ACCOUNT_DEFAULT

    def account_id(self) -> str:
        """The account's id, read once it exists (it never changes after)."""
        if not self._account_id:
            record = self.store.account()
            self._account_id = record["id"] if record else ""
        return self._account_id

    def public_access_block(self) -> PublicAccessBlock | None:
        if self._generation != self.store.generation:
            generation = self.store.generation
            stored, value = self.store.local(lambda k: state.setting(k, SETTING))
            self._block = (ACCOUNT_DEFAULT if not stored
                           else None if value is None else PublicAccessBlock.from_dict(value))
            self._generation = generation
        return self._block

    async def set_public_access_block(self, config: PublicAccessBlock | None) -> None:
        """Replace the account's configuration; None deletes it."""
        await self.store.change({"op": "put_setting", "name": SETTING,
                                 "value": None if config is None else config.to_dict()})
