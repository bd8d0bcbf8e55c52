"""The account root's credentials on first start, and on every start after.

- ``ENGINE_ROOT_ACCESS_KEY_ID`` and ``ENGINE_ROOT_SECRET_ACCESS_KEY`` set (as MinIO's
  root user variables): they are the root key; starting with other values replaces the
  root key cluster-wide (how root is rotated).
- Otherwise, on the cluster's very first start, a node generates an account id and a root
  key and proposes them; the first proposal committed wins, so every node agrees. The
  winner prints the credentials once (stdout, never the log).
- Every node then writes ``<data>/root-credentials`` (mode 0600) in the AWS shared
  credentials format if it is missing: the secret is sealed with the cluster's key, so
  any node can open it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.iam import names
from engine.iam.sealing import Sealer
from engine.iam.store.state import Record
from engine.iam.store.table import IdentityStore

ENV_KEY, ENV_SECRET = "ENGINE_ROOT_ACCESS_KEY_ID", "ENGINE_ROOT_SECRET_ACCESS_KEY"
CREDENTIALS_FILE = "root-credentials"
_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")


class BootstrapError(ValueError):
    pass


def check_env(env: Mapping[str, str]) -> None:
    """Refuse half-set or malformed root variables before a node starts."""
    _from_env(env)


def _from_env(env: Mapping[str, str]) -> tuple[str, str] | None:
    key, secret = env.get(ENV_KEY, ""), env.get(ENV_SECRET, "")
    if not key and not secret:
        return None
    if not key or not secret:
        raise BootstrapError(f"set both {ENV_KEY} and {ENV_SECRET}, or neither")
    if not _KEY_ID.match(key):
        raise BootstrapError(f"{ENV_KEY} must be 16-128 upper-case letters and digits")
    if len(secret) < 8:
        raise BootstrapError(f"{ENV_SECRET} must be at least 8 characters")
    return key, secret


async def bootstrap_root(store: IdentityStore, sealer: Sealer, data_dir: Path,
                         now: str, *, env: Mapping[str, str] = os.environ,
                         announce: Callable[[str], None] = print) -> Record:
    """Make sure the account and its root key exist; returns the account record."""
    given = _from_env(env)
    if given is not None:
        key_id, secret = given
        account = await store.change({"op": "bootstrap", "now": now, "replace": True,
                                      "account": names.new_account_id(), "key_id": key_id,
                                      "sealed": sealer.seal(secret, key_id).hex()})
    else:
        account = store.account() or await _first_start(store, sealer, now, announce)
    # A linearizable read: on a node that is not the leader the change may be committed
    # but not yet applied here, and every node writes the file.
    key = await store.fetch("key", account["root_key"])
    if key is not None:
        write_credentials(key, sealer, data_dir)
    return account


async def _first_start(store: IdentityStore, sealer: Sealer, now: str,
                       announce: Callable[[str], None]) -> Record:
    key_id, secret = names.new_id("key"), names.new_secret()
    account = await store.change({"op": "bootstrap", "now": now,
                                  "account": names.new_account_id(), "key_id": key_id,
                                  "sealed": sealer.seal(secret, key_id).hex()})
    if account["root_key"] == key_id:
        announce("Root credentials of the new account (shown once; also in each node's "
                 f"{CREDENTIALS_FILE} file):\n  aws_access_key_id = {key_id}\n"
                 f"  aws_secret_access_key = {secret}")
    return account


def credentials_text(key_id: str, secret: str) -> str:
    return f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"


def write_credentials(record: Record, sealer: Sealer, data_dir: Path) -> None:
    """``<data>/root-credentials`` with the root key ``record``, if it is not already so."""
    secret = sealer.open(bytes.fromhex(record["sealed"]), record["id"])
    text = credentials_text(record["id"], secret)
    path = data_dir / CREDENTIALS_FILE
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
