"""How (bucket, key) pairs become LMDB keys, preserving S3's listing order.

LMDB keys are at most 511 bytes but S3 keys reach 1024 bytes. A key shorter than
``DIRECT_LIMIT`` bytes is stored under ``bucket 0x00 key``. A longer key is stored in an
*overflow record* under ``bucket 0x00 key[:DIRECT_LIMIT]``, shared by every long key with
that prefix. Byte order is preserved: a direct key never has the full prefix of an
overflow record (it is shorter), so sorting LMDB keys and then the members of each
overflow record yields exactly UTF-8 byte order, which is S3's listing order.
An LMDB key is an overflow record exactly when its key part is DIRECT_LIMIT bytes long.
"""

from __future__ import annotations

LMDB_MAX_KEY = 511
BUCKET_MAX = 63
SEPARATOR = b"\x00"  # never in a bucket name, and sorts first
DIRECT_LIMIT = LMDB_MAX_KEY - BUCKET_MAX - len(SEPARATOR)  # 447


def bucket_prefix(bucket: str) -> bytes:
    return bucket.encode() + SEPARATOR


def lmdb_key(bucket: str, key: str) -> tuple[bytes, bool]:
    """The LMDB key holding `key`, and whether it is an overflow record."""
    raw = key.encode()
    if len(raw) < DIRECT_LIMIT:
        return bucket_prefix(bucket) + raw, False
    return bucket_prefix(bucket) + raw[:DIRECT_LIMIT], True


def split(bucket: str, stored: bytes) -> tuple[str, bool]:
    """Inverse of :func:`lmdb_key` for a key read back from LMDB: (key part, overflow?).

    The key part of an overflow record is only the shared prefix, possibly cut inside a
    UTF-8 sequence, so it is decoded leniently and used only for seeking.
    """
    part = stored[len(bucket_prefix(bucket)) :]
    if len(part) >= DIRECT_LIMIT:
        return part.decode(errors="replace"), True
    return part.decode(), False


def seek_key(bucket: str, key: str) -> bytes:
    """Smallest LMDB key whose records may hold keys >= `key`."""
    return bucket_prefix(bucket) + key.encode()[:DIRECT_LIMIT]
