"""How (bucket, key) pairs become LMDB keys, preserving S3's listing order.

LMDB keys are at most 511 bytes but S3 keys reach 1024 bytes. A key shorter than
``DIRECT_LIMIT`` bytes is stored under ``bucket 0x00 key``. A longer key is stored in an
*overflow record* under ``bucket 0x00 key[:DIRECT_LIMIT]``, shared by every long key with
that prefix. Byte order is preserved: a direct key never has the full prefix of an
overflow record (it is shorter), so sorting LMDB keys and then the members of each
overflow record yields exactly UTF-8 byte order, which is S3's listing order.
An LMDB key is an overflow record exactly when its key part is DIRECT_LIMIT bytes long.

Multipart uploads live in their own sub-database, keyed by bucket and upload id (never
the object key, which may be 1024 bytes): ``bucket 0x00 upload_id`` holds the upload
record and ``bucket 0x00 upload_id 0x00 <u16 big-endian part number>`` each part, so a
part sorts right after its upload and one part is written without touching the others.
"""

from __future__ import annotations

import struct

LMDB_MAX_KEY = 511
BUCKET_MAX = 63
SEPARATOR = b"\x00"  # never in a bucket name, and sorts first
DIRECT_LIMIT = LMDB_MAX_KEY - BUCKET_MAX - len(SEPARATOR)  # 447
_PART = struct.Struct(">H")
UPLOAD_ID_MAX = LMDB_MAX_KEY - BUCKET_MAX - 2 * len(SEPARATOR) - _PART.size  # 444
PART_MAX = 0xFFFF


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


def valid_upload_id(upload_id: str) -> bool:
    """Whether an upload id can name LMDB keys: an id a client sends that cannot is
    simply an upload that does not exist."""
    raw = upload_id.encode()
    return 0 < len(raw) <= UPLOAD_ID_MAX and SEPARATOR not in raw


def upload_key(bucket: str, upload_id: str) -> bytes:
    """The LMDB key of an upload record (the upload id must be valid)."""
    return bucket_prefix(bucket) + upload_id.encode()


def part_key(bucket: str, upload_id: str, number: int) -> bytes:
    """The LMDB key of part `number` (1..65535) of an upload."""
    if not 0 < number <= PART_MAX:
        raise ValueError(f"part number {number} out of range")
    return upload_key(bucket, upload_id) + SEPARATOR + _PART.pack(number)


def parts_prefix(bucket: str, upload_id: str) -> bytes:
    """Every part key of an upload starts with this, and no other key does."""
    return upload_key(bucket, upload_id) + SEPARATOR


def is_upload_key(bucket: str, stored: bytes) -> bool:
    """Whether a key of the uploads database (within `bucket`) is an upload record."""
    return SEPARATOR not in stored[len(bucket_prefix(bucket)) :]
