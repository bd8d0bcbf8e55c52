"""Secrets at rest: secret access keys are sealed before they enter the Raft log.

A node needs the plaintext secret to check a SigV4 signature (HMAC is symmetric), so the
secret is stored encrypted, not hashed. The key is derived with HKDF-SHA256 from the
cluster secret every node already shares (topology file), or, on a single node, from a
32-byte key file created on first start (mode 0600). AES-256-GCM authenticates the
sealed value together with what it belongs to (the access key id), so a sealed secret
copied onto another key id does not open. Sealing happens on the proposing node: the
log, snapshots and the state hold ciphertext only.

Format (a stored format, pinned in tests): version byte 1, 12-byte nonce, ciphertext+tag.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
SECRETS, TOKENS = "iam sealing", "sts tokens"  # separate keys for separate purposes
KEY_FILE = "iam-seal.key"


class Sealer:
    def __init__(self, key_material: bytes, purpose: str = SECRETS) -> None:
        if len(key_material) < 16:
            raise ValueError("sealing key material must be at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"engine {purpose} v1".encode()).derive(key_material)
        self._aead = AESGCM(key)
        self.material = key_material

    def for_purpose(self, purpose: str) -> Sealer:
        """A sealer with an independent key from the same material."""
        return Sealer(self.material, purpose)

    @classmethod
    def from_secret(cls, cluster_secret: str) -> Sealer:
        return cls(cluster_secret.encode())

    @classmethod
    def from_key_file(cls, data_dir: Path) -> Sealer:
        """The single node's key, created on first start with 0600 permissions."""
        path = data_dir / KEY_FILE
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            pass
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    def seal(self, secret: str, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        return bytes([VERSION]) + nonce + self._aead.encrypt(nonce, secret.encode(),
                                                             bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        """The secret; ValueError when the value was not sealed by this key for
        ``bound_to`` (another cluster's store, a damaged record)."""
        if len(sealed) < 29 or sealed[0] != VERSION:
            raise ValueError("not a sealed secret of a known version")
        try:
            plain = self._aead.decrypt(sealed[1:13], sealed[13:], bound_to.encode())
        except InvalidTag as exc:
            raise ValueError("sealed secret does not open with this key") from exc
        return plain.decode()
