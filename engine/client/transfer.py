"""The transfer manager: boto3's upload_file, upload_fileobj, download_file, download_fileobj.

Same names, arguments, TransferConfig and defaults as boto3 (s3transfer). At or above
``multipart_threshold`` an upload becomes a multipart upload whose parts are sent by
``max_concurrency`` threads; the reader waits for a free thread before reading the next
part, so at most that many parts are in memory. Any failure aborts the upload, after
the parts in flight have finished, so no upload is left behind. A large download is
cut into ranged GETs run in parallel and pinned to the ETag the HEAD saw (a concurrent
overwrite fails the download instead of mixing two objects); a file is written at
offsets into a temporary file renamed into place only on success.

``Callback`` gets the number of bytes moved since its last call (negative when a
failed range is retried), from whichever thread moved them, as boto3's does.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from engine.client.errors import (
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    RetriesExceededError,
    S3UploadFailedError,
)

if TYPE_CHECKING:
    from engine.client.s3 import S3Client

KB = 1024
MB = KB * KB
MIN_PART_SIZE = 5 * MB
MAX_PART_SIZE = 5 * 1024 * MB
MAX_PARTS = 10_000

Callback = Callable[[int], object]

# The ExtraArgs boto3 allows that this service supports (boto3 rejects others the same way).
ALLOWED_UPLOAD_ARGS = (
    "ACL", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
    "ContentType", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP",
    "Metadata", "StorageClass", "Tagging",
)
ALLOWED_DOWNLOAD_ARGS = ("ChecksumMode", "VersionId")

# Worth another try of a ranged GET (the connection broke, not the request).
_RETRYABLE = (IncompleteReadError, ReadTimeoutError, EndpointConnectionError)


@dataclass
class TransferConfig:
    """boto3.s3.transfer.TransferConfig: the same names and defaults.

    max_io_queue, io_chunksize, max_bandwidth and preferred_transfer_client are
    accepted for compatibility and have no effect here.
    """

    multipart_threshold: int = 8 * MB
    max_concurrency: int = 10
    multipart_chunksize: int = 8 * MB
    num_download_attempts: int = 5
    max_io_queue: int = 100
    io_chunksize: int = 256 * KB
    use_threads: bool = True
    max_bandwidth: int | None = None
    preferred_transfer_client: str = "auto"

    def __post_init__(self) -> None:
        for name in ("multipart_threshold", "max_concurrency", "multipart_chunksize",
                     "num_download_attempts", "max_io_queue", "io_chunksize"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Provided parameter {name} of value {getattr(self, name)} "
                                 "must be greater than 0.")

    @property
    def workers(self) -> int:
        return self.max_concurrency if self.use_threads else 1


def part_size(chunksize: int, total: int | None) -> int:
    """s3transfer's ChunksizeAdjuster: doubled until the parts fit in 10,000, then kept
    within S3's 5 MiB - 5 GiB part size."""
    size = chunksize
    if total is not None:
        while math.ceil(total / size) > MAX_PARTS:
            size *= 2
    return min(max(size, MIN_PART_SIZE), MAX_PART_SIZE)


class TransferMethods:
    """Mixed into S3Client: boto3 injects these four methods into its S3 client too."""

    def upload_file(self, Filename: str | os.PathLike[str], Bucket: str, Key: str,
                    ExtraArgs: Mapping[str, Any] | None = None, Callback: Callback | None = None,
                    Config: TransferConfig | None = None) -> None:
        """Upload a local file; a service error is S3UploadFailedError, as in boto3."""
        with open(Filename, "rb") as f:
            try:
                upload(self._s3(), f, Bucket, Key, ExtraArgs, Callback, Config)
            except ClientError as exc:
                raise S3UploadFailedError(
                    f"Failed to upload {os.fspath(Filename)} to {Bucket}/{Key}: {exc}"
                ) from exc

    def upload_fileobj(self, Fileobj: IO[bytes], Bucket: str, Key: str,
                       ExtraArgs: Mapping[str, Any] | None = None,
                       Callback: Callback | None = None,
                       Config: TransferConfig | None = None) -> None:
        """Upload from a binary file object (read from where it stands; pipes too)."""
        upload(self._s3(), Fileobj, Bucket, Key, ExtraArgs, Callback, Config)

    def download_file(self, Bucket: str, Key: str, Filename: str | os.PathLike[str],
                      ExtraArgs: Mapping[str, Any] | None = None,
                      Callback: Callback | None = None,
                      Config: TransferConfig | None = None) -> None:
        """Download into a file, replaced only once every byte has arrived."""
        download_to_file(self._s3(), Bucket, Key, os.fspath(Filename), ExtraArgs, Callback,
                         Config)

    def download_fileobj(self, Bucket: str, Key: str, Fileobj: IO[bytes],
                         ExtraArgs: Mapping[str, Any] | None = None,
                         Callback: Callback | None = None,
                         Config: TransferConfig | None = None) -> None:
        """Download into a writable binary file object, written in order (no seeks)."""
        download_to_fileobj(self._s3(), Bucket, Key, Fileobj, ExtraArgs, Callback, Config)

    def _s3(self) -> S3Client:
        return self  # type: ignore[return-value]


def _extra(args: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    extra = dict(args or {})
    for key in extra:
        if key not in allowed:
            raise ValueError(f"Invalid extra_args key '{key}', must be one of: "
                             f"{', '.join(allowed)}")
    return extra


def _notify(callback: Callback | None, amount: int) -> None:
    if callback is not None and amount:
        callback(amount)


class _InlineExecutor(Executor):
    """use_threads=False: every task runs in the caller's thread as it is submitted."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


def _executor(config: TransferConfig) -> Executor:
    if not config.use_threads:
        return _InlineExecutor()
    return ThreadPoolExecutor(config.max_concurrency, thread_name_prefix="s3transfer")


@contextlib.contextmanager
def _workers(config: TransferConfig, futures: Iterable[Future[Any]]) -> Iterator[Executor]:
    """The executor for one transfer, shut down (waiting for running tasks) on the way out;
    on a failure the ``futures`` submitted so far are cancelled first."""
    executor = _executor(config)
    try:
        yield executor
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        executor.shutdown(wait=True)


# -- upload --------------------------------------------------------------------------------


class _Progress:
    """A read-only view of a binary stream that reports each read to the callback."""

    def __init__(self, raw: IO[bytes], callback: Callback | None) -> None:
        self._raw = raw
        self._callback = callback

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        _notify(self._callback, len(data))
        return data


def _read_full(f: IO[bytes], size: int) -> bytes:
    """Exactly ``size`` bytes unless the stream ends first (pipes return short reads)."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = f.read(size - got)
        if not data:
            break
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError("Fileobj must be opened in binary mode")
        parts.append(bytes(data))
        got += len(data)
    return b"".join(parts)


def _known_size(f: IO[bytes]) -> int | None:
    try:
        if not f.seekable():
            return None
        here = f.tell()
        return f.seek(0, os.SEEK_END) - f.seek(here, os.SEEK_SET)
    except (AttributeError, OSError, ValueError):
        return None


def upload(client: S3Client, f: IO[bytes], bucket: str, key: str,
           extra_args: Mapping[str, Any] | None, callback: Callback | None,
           config: TransferConfig | None) -> None:
    """One PUT below the threshold, else a parallel multipart upload."""
    if not hasattr(f, "read"):
        raise ValueError("Fileobj must implement read")
    config = config or TransferConfig()
    extra = _extra(extra_args, ALLOWED_UPLOAD_ARGS)
    size = _known_size(f)
    if size is None:  # a pipe: read up to the threshold to learn which side it is on
        head = _read_full(f, config.multipart_threshold)
        if len(head) < config.multipart_threshold:
            client.put_object(Bucket=bucket, Key=key, Body=_Progress(io.BytesIO(head), callback),
                              ContentLength=len(head), **extra)
            return
        source: IO[bytes] = io.BufferedReader(_Chained(head, f))  # type: ignore[arg-type]
    elif size < config.multipart_threshold:
        client.put_object(Bucket=bucket, Key=key, Body=_Progress(f, callback),
                          ContentLength=size, **extra)
        return
    else:
        source = f
    _multipart_upload(client, source, size, bucket, key, extra, callback, config)


class _Chained(io.RawIOBase):
    """The bytes already read from a pipe, then the rest of the pipe."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _multipart_upload(client: S3Client, f: IO[bytes], size: int | None, bucket: str,
                      key: str, extra: dict[str, Any], callback: Callback | None,
                      config: TransferConfig) -> None:
    chunk = part_size(config.multipart_chunksize, size)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    try:
        parts = _send_parts(client, f, chunk, bucket, key, upload_id, callback, config)
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def _send_parts(client: S3Client, f: IO[bytes], chunk: int, bucket: str, key: str,
                upload_id: str, callback: Callback | None, config: TransferConfig
                ) -> list[dict[str, Any]]:
    """Read parts in order and send each on a free worker; the parts' ETags in order.

    Returns only once no part is in flight, so an abort that follows a failure cannot
    be overtaken by a part still uploading.
    """
    slots = threading.Semaphore(config.workers)
    failed = threading.Event()
    futures: list[Future[dict[str, Any]]] = []

    def send(number: int, data: bytes) -> dict[str, Any]:
        resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                  PartNumber=number, Body=_Progress(io.BytesIO(data), callback),
                                  ContentLength=len(data))
        return {"ETag": resp["ETag"], "PartNumber": number}

    def done(future: Future[dict[str, Any]]) -> None:
        if future.cancelled() or future.exception() is not None:
            failed.set()
        slots.release()

    with _workers(config, futures) as executor:
        for number in range(1, MAX_PARTS + 1):
            slots.acquire()
            if failed.is_set():
                slots.release()
                break
            data = _read_full(f, chunk)
            if not data and number > 1:
                slots.release()
                break
            future = executor.submit(send, number, data)
            future.add_done_callback(done)
            futures.append(future)
            if len(data) < chunk:
                break
        else:
            if f.read(1):
                raise ValueError(f"The stream needs more than {MAX_PARTS} parts of {chunk} "
                                 "bytes; give a larger multipart_chunksize")
    return [future.result() for future in futures]  # the first failure, if any, raises


# -- download ------------------------------------------------------------------------------

Writer = Callable[[int, bytes], None]  # (absolute offset, data)


@dataclass(frozen=True)
class _Source:
    """What every GET of one download asks for."""

    client: S3Client
    bucket: str
    key: str
    extra: dict[str, Any]
    attempts: int
    callback: Callback | None


def _plan(client: S3Client, bucket: str, key: str, extra_args: Mapping[str, Any] | None,
          callback: Callback | None, config: TransferConfig
          ) -> tuple[_Source, list[tuple[int, int]] | None, int]:
    """HEAD the object: (the GETs' source, byte ranges or None for one plain GET, size)."""
    extra = _extra(extra_args, ALLOWED_DOWNLOAD_ARGS)
    head = client.head_object(Bucket=bucket, Key=key, **extra)
    size = int(head["ContentLength"])
    if "VersionId" not in extra and head.get("ETag"):
        extra["IfMatch"] = head["ETag"]  # every range comes from the object the HEAD saw
    source = _Source(client, bucket, key, extra, config.num_download_attempts, callback)
    if size < config.multipart_threshold:
        return source, None, size
    step = config.multipart_chunksize
    return source, [(first, min(first + step, size) - 1) for first in range(0, size, step)], size


def _get(source: _Source, byte_range: tuple[int, int] | None, write: Writer) -> None:
    """Stream one GET into ``write`` (at absolute offsets), retrying a broken transfer
    from the range's start; progress already reported for it is taken back first."""
    first = byte_range[0] if byte_range else 0
    params = dict(source.extra)
    if byte_range is not None:
        params["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    else:
        params.pop("IfMatch", None)  # a single GET cannot mix two objects
    last_error: Exception | None = None
    for _ in range(source.attempts):
        offset = first
        try:
            resp = source.client.get_object(Bucket=source.bucket, Key=source.key, **params)
            with resp["Body"] as body:
                for data in body.iter_chunks():
                    write(offset, data)
                    offset += len(data)
                    _notify(source.callback, len(data))
            return
        except _RETRYABLE as exc:
            last_error = exc
            _notify(source.callback, first - offset)
    assert last_error is not None
    raise RetriesExceededError(last_error)


def download_to_file(client: S3Client, bucket: str, key: str, filename: str,
                     extra_args: Mapping[str, Any] | None, callback: Callback | None,
                     config: TransferConfig | None) -> None:
    config = config or TransferConfig()
    source, ranges, size = _plan(client, bucket, key, extra_args, callback, config)
    temp = f"{filename}.{secrets.token_hex(4)}"  # s3transfer's name: beside the target
    try:
        with open(temp, "wb") as out:
            fd = out.fileno()

            def write(offset: int, data: bytes) -> None:
                os.pwrite(fd, data, offset)

            if ranges is None:
                _get(source, None, write)
            else:
                os.ftruncate(fd, size)
                _run_all(config, [lambda r=r: _get(source, r, write) for r in ranges])
        os.replace(temp, filename)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def download_to_fileobj(client: S3Client, bucket: str, key: str, f: IO[bytes],
                        extra_args: Mapping[str, Any] | None, callback: Callback | None,
                        config: TransferConfig | None) -> None:
    """Ranges are fetched in parallel into buffers and written in order; at most
    ``max_concurrency`` ranges are buffered at a time."""
    if not hasattr(f, "write"):
        raise ValueError("Fileobj must implement write")
    config = config or TransferConfig()
    source, ranges, size = _plan(client, bucket, key, extra_args, callback, config)

    def fetch(byte_range: tuple[int, int] | None) -> bytearray:
        first, last = byte_range if byte_range else (0, size - 1)
        buffer = bytearray(last - first + 1)

        def write(offset: int, data: bytes) -> None:
            buffer[offset - first : offset - first + len(data)] = data

        _get(source, byte_range, write)
        return buffer

    if ranges is None:
        f.write(fetch(None))
        return
    window: deque[Future[bytearray]] = deque()
    with _workers(config, window) as executor:
        pending = iter(ranges)
        for byte_range in pending:
            window.append(executor.submit(fetch, byte_range))
            if len(window) >= config.workers:
                break
        while window:
            f.write(window.popleft().result())
            nxt = next(pending, None)
            if nxt is not None:
                window.append(executor.submit(fetch, nxt))


def _run_all(config: TransferConfig, tasks: list[Callable[[], None]]) -> None:
    """Run the tasks on the workers; on the first failure cancel the rest and raise it."""
    futures: list[Future[None]] = []
    with _workers(config, futures) as executor:
        futures[:] = [executor.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
