"""What node-to-node calls agree on besides node.proto: the secret header and how
storage outcomes travel, so a remote drive raises exactly what a local drive raises."""

from __future__ import annotations

import grpc

from engine.errors import EngineError
from engine.storage.entries import PreconditionMismatch
from engine.storage.errors import (
    BitrotError,
    ShardMissing,
    StorageError,
    UploadNotFound,
    VolumeExists,
    VolumeNotEmpty,
    VolumeNotFound,
)

SECRET_HEADER = "x-engine-secret"

_PLAIN: dict[str, type[StorageError]] = {
    cls.__name__: cls
    for cls in (VolumeNotFound, VolumeExists, VolumeNotEmpty, ShardMissing, BitrotError,
                UploadNotFound)
}


def encode(exc: StorageError) -> EngineError:
    details = {}
    if isinstance(exc, PreconditionMismatch):
        details = {"header": exc.header, "missing": "1" if exc.missing else "0"}
    return EngineError(type(exc).__name__, str(exc), http_status=409,
                       grpc_status=grpc.StatusCode.FAILED_PRECONDITION, **details)


def decode(err: EngineError) -> StorageError | None:
    """The storage exception an error stands for, or None if it is something else."""
    if err.code == PreconditionMismatch.__name__:
        return PreconditionMismatch(err.details.get("header", ""),
                                    missing=err.details.get("missing") == "1")
    cls = _PLAIN.get(err.code)
    return cls(err.message) if cls else None
