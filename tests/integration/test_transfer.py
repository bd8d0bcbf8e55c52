"""The transfer manager (upload_file, download_file, ...) against a real `engine serve`:
multipart above the threshold, progress callbacks, ranged parallel downloads, and no
upload left behind when a transfer fails."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest
from helpers_s3 import MIB, PART, md5_etag, multipart_etag, unique_name

from engine.client import ClientError, S3UploadFailedError, TransferConfig

SMALL = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(2 * PART + 123_457)  # three parts of 5 MiB, 5 MiB and the rest


class Progress:
    """A thread-safe Callback that remembers the total and every increment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.calls = 0
        self.threads: set[str] = set()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.total += amount
            self.calls += 1
            self.threads.add(threading.current_thread().name)


class Pipe(io.RawIOBase):
    """A non-seekable stream over bytes that can fail after ``fail_after`` bytes."""

    def __init__(self, payload: bytes, fail_after: int | None = None) -> None:
        super().__init__()
        self.payload = memoryview(payload)
        self.pos = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError("the pipe broke")
        n = min(len(buffer), len(self.payload) - self.pos, 64 * 1024)
        buffer[:n] = self.payload[self.pos : self.pos + n]
        self.pos += n
        return n


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def test_upload_file_above_threshold_is_multipart(s3, bucket, data, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    progress = Progress()
    s3.upload_file(str(src), bucket, "big.bin", Callback=progress, Config=SMALL,
                   ExtraArgs={"ContentType": "application/x-test", "Metadata": {"a": "1"},
                              "Tagging": "t=1", "StorageClass": "STANDARD_IA"})
    assert progress.total == len(data) and progress.calls >= 3
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ETag"] == multipart_etag(data[:PART], data[PART : 2 * PART], data[2 * PART :])
    assert head["ContentLength"] == len(data) and head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"a": "1"} and head["StorageClass"] == "STANDARD_IA"
    assert s3.get_object(Bucket=bucket, Key="big.bin")["TagCount"] == 1
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)

    down = tmp_path / "down.bin"
    progress = Progress()
    s3.download_file(bucket, "big.bin", str(down), Callback=progress,
                     Config=TransferConfig(multipart_threshold=MIB, multipart_chunksize=MIB,
                                           max_concurrency=4))
    assert sha(down.read_bytes()) == sha(data)
    assert progress.total == len(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "down.bin"]


def test_default_config_and_small_files(s3, bucket, tmp_path):
    src = tmp_path / "small.txt"
    src.write_bytes(b"hello")
    progress = Progress()
    s3.upload_file(src, bucket, "small.txt", Callback=progress)  # PathLike works too
    assert progress.total == 5
    assert s3.head_object(Bucket=bucket, Key="small.txt")["ETag"] == md5_etag(b"hello")
    down = tmp_path / "down.txt"
    s3.download_file(bucket, "small.txt", down)
    assert down.read_bytes() == b"hello"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    s3.upload_file(str(empty), bucket, "empty")
    s3.download_file(bucket, "empty", str(tmp_path / "empty-down"))
    assert (tmp_path / "empty-down").read_bytes() == b""

    # The default config: 9 MiB is above 8 MiB, so two parts (8 MiB + 1 MiB).
    nine = os.urandom(9 * MIB)
    s3.upload_fileobj(io.BytesIO(nine), bucket, "nine")
    assert s3.head_object(Bucket=bucket, Key="nine")["ETag"] == \
        multipart_etag(nine[: 8 * MIB], nine[8 * MIB :])


def test_upload_fileobj_from_a_pipe(s3, bucket, data):
    s3.upload_fileobj(Pipe(data), bucket, "piped", Config=SMALL)
    head = s3.head_object(Bucket=bucket, Key="piped")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    assert sha(s3.get_object(Bucket=bucket, Key="piped")["Body"].read()) == sha(data)
    s3.upload_fileobj(Pipe(b"short"), bucket, "short", Config=SMALL)
    assert s3.head_object(Bucket=bucket, Key="short")["ETag"] == md5_etag(b"short")


def test_failed_upload_is_aborted(s3, bucket, data):
    with pytest.raises(OSError, match="the pipe broke"):
        s3.upload_fileobj(Pipe(data, fail_after=PART + MIB), bucket, "broken", Config=SMALL)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="broken")

    def refuse(amount: int) -> None:  # a failure inside a part's upload
        raise RuntimeError("callback refused")

    with pytest.raises(RuntimeError, match="callback refused"):
        s3.upload_fileobj(io.BytesIO(data), bucket, "refused", Callback=refuse, Config=SMALL)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_service_errors(s3, bucket, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"x")
    missing = unique_name("missing")
    with pytest.raises(S3UploadFailedError) as exc:
        s3.upload_file(str(src), missing, "k")
    assert isinstance(exc.value.__cause__, s3.exceptions.NoSuchBucket)
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.upload_fileobj(io.BytesIO(b"x"), missing, "k")
    with pytest.raises(ValueError, match="Invalid extra_args key 'WebsiteRedirectLocation'"):
        s3.upload_file(str(src), bucket, "k", ExtraArgs={"WebsiteRedirectLocation": "/x"})
    s3.upload_file(str(src), bucket, "k", ExtraArgs={"ACL": "private"})  # the owner's own

    target = tmp_path / "out"
    with pytest.raises(ClientError) as err:  # boto3's download_file HEADs first: a bare 404
        s3.download_file(bucket, "absent", str(target))
    assert err.value.response["Error"]["Code"] == "404"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_download_fileobj_and_versions(s3, bucket, data):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=data)["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"newer")
    out = io.BytesIO()
    progress = Progress()
    config = TransferConfig(multipart_threshold=MIB, multipart_chunksize=MIB, max_concurrency=3)
    s3.download_fileobj(bucket, "k", out, ExtraArgs={"VersionId": old}, Callback=progress,
                        Config=config)
    assert sha(out.getvalue()) == sha(data) and progress.total == len(data)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "k", out, Config=config)
    assert out.getvalue() == b"newer"


def test_without_threads(s3, bucket, data, tmp_path):
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                            use_threads=False)
    progress = Progress()
    s3.upload_fileobj(io.BytesIO(data), bucket, "k", Callback=progress, Config=config)
    assert progress.total == len(data)
    assert not [t for t in progress.threads if t.startswith("s3transfer")]  # no worker pool
    assert s3.head_object(Bucket=bucket, Key="k")["ETag"].endswith('-3"')
    down = tmp_path / "k"
    s3.download_file(bucket, "k", str(down), Config=config)
    assert sha(down.read_bytes()) == sha(data)
