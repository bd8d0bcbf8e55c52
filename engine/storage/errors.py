"""Storage-level failures. The object service turns them into S3 error codes."""

from __future__ import annotations


class StorageError(Exception):
    """Base of failures below the service layer."""


class VolumeNotFound(StorageError):
    """The bucket's volume does not exist on this drive."""


class VolumeExists(StorageError):
    """The bucket's volume already exists on this drive."""


class VolumeNotEmpty(StorageError):
    """The bucket's volume still holds objects."""


class ShardMissing(StorageError):
    """A shard file that metadata refers to is not on the drive."""


class BitrotError(StorageError):
    """A shard block's CRC32C does not match its contents."""


class UploadNotFound(StorageError):
    """The multipart upload does not exist on this drive (never created, or already
    completed or aborted)."""
