"""`engine s3`: the aws-cli `s3` helpers (mb, rb, ls, cp, rm) on top of the SDK.

Output lines follow the aws cli ("upload: a to s3://b/a", `ls` columns) so scripts and
habits carry over. Every failure prints `engine: <Code>: <Message>` and exits 1.
`cp` goes through the SDK's transfer manager (parallel multipart above 8 MiB).
"""

from __future__ import annotations

import argparse
import contextlib
import mimetypes
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from engine.client import ClientError, S3Client, S3UploadFailedError, client
from engine.config import DEFAULT_LISTEN

PROGRESS_THRESHOLD = 8 * 1024 * 1024  # smaller transfers finish before a bar helps
SCHEME = "s3://"

Advance = Callable[[int], object]
Command = Callable[[S3Client, argparse.Namespace], int]


class CliError(Exception):
    """A usage problem found before calling the service, reported like a service error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("s3", help="S3 helpers: mb, rb, ls, cp, rm (like `aws s3`)")
    cmds = p.add_subparsers(dest="s3_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=DEFAULT_LISTEN,
                        help=f"node to talk to (default: {DEFAULT_LISTEN})")
    common.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM CA bundle to trust for an https:// endpoint (default: "
                        "$AWS_CA_BUNDLE, else the system's roots)")

    mb = cmds.add_parser("mb", parents=[common], help="make a bucket")
    mb.add_argument("uri", metavar="s3://BUCKET")
    mb.set_defaults(run=_runner(make_bucket))

    rb = cmds.add_parser("rb", parents=[common], help="remove an empty bucket")
    rb.add_argument("uri", metavar="s3://BUCKET")
    rb.add_argument("--force", action="store_true", help="delete every object first")
    rb.set_defaults(run=_runner(remove_bucket))

    ls = cmds.add_parser("ls", parents=[common], help="list buckets, or objects and prefixes")
    ls.add_argument("uri", nargs="?", metavar="s3://BUCKET[/PREFIX]")
    ls.add_argument("--recursive", action="store_true", help="list every key under the prefix")
    ls.set_defaults(run=_runner(list_command))

    cp = cmds.add_parser("cp", parents=[common], help="copy a file to, from or within S3")
    cp.add_argument("src", metavar="SRC", help="local path, s3://BUCKET/KEY, or - for stdin")
    cp.add_argument("dst", metavar="DST", help="local path, s3://BUCKET/KEY, or - for stdout")
    cp.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    cp.add_argument("--quiet", action="store_true", help="print nothing on success")
    cp.add_argument("--content-type", help="Content-Type to store (default: guessed from SRC)")
    cp.set_defaults(run=_runner(copy_command))

    rm = cmds.add_parser("rm", parents=[common], help="delete an object")
    rm.add_argument("uri", metavar="s3://BUCKET/KEY")
    rm.set_defaults(run=_runner(remove_object))


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: one client for its duration, every failure as one stderr line."""

    def run(args: argparse.Namespace) -> int:
        try:
            with client("s3", endpoint=args.endpoint, verify=args.ca_bundle) as s3:
                return command(s3, args)
        except S3UploadFailedError as exc:
            if isinstance(exc.__cause__, ClientError):
                return _client_error(exc.__cause__)
            return _fail(type(exc).__name__, str(exc))
        except ClientError as exc:
            return _client_error(exc)
        except CliError as exc:
            return _fail(exc.code, exc.message)
        except BrokenPipeError:
            # A reader such as `head` went away: stop quietly, without a flush error at exit.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except ValueError as exc:  # a malformed --endpoint or parameter
            return _fail("InvalidArgument", str(exc))
        except KeyboardInterrupt:
            return 130
        except Exception as exc:  # OSError and anything unforeseen: still one line
            return _fail(type(exc).__name__, str(exc))

    return run


def _client_error(exc: ClientError) -> int:
    error = exc.response.get("Error", {})
    return _fail(error.get("Code", "Unknown"), error.get("Message", str(exc)))


def _fail(code: str, message: str) -> int:
    print(f"engine: {code}: {message}", file=sys.stderr)
    return 1


def parse_uri(uri: str) -> tuple[str, str]:
    """"s3://bucket/some/key" -> ("bucket", "some/key"); the key may be empty."""
    if not uri.startswith(SCHEME):
        raise CliError("InvalidArgument", f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    if not bucket:
        raise CliError("InvalidArgument", f"{uri!r} names no bucket")
    return bucket, key


def _bucket_only(uri: str) -> str:
    bucket, key = parse_uri(uri)
    if key:
        raise CliError("InvalidArgument", f"{uri!r} names a key; expected s3://BUCKET")
    return bucket


def _local_time(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


# -- buckets -----------------------------------------------------------------------------


def make_bucket(s3: S3Client, args: argparse.Namespace) -> int:
    bucket = _bucket_only(args.uri)
    s3.create_bucket(Bucket=bucket)
    print(f"make_bucket: {bucket}")
    return 0


def remove_bucket(s3: S3Client, args: argparse.Namespace) -> int:
    bucket = _bucket_only(args.uri)
    if args.force:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [obj["Key"] for obj in page.get("Contents", [])]
            if not keys:
                continue
            result = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]}
            )
            for item in result.get("Deleted", []):
                print(f"delete: {SCHEME}{bucket}/{item['Key']}")
            for err in result.get("Errors", []):
                raise CliError(err["Code"], f"{SCHEME}{bucket}/{err['Key']}: {err['Message']}")
    s3.delete_bucket(Bucket=bucket)
    print(f"remove_bucket: {bucket}")
    return 0


def list_command(s3: S3Client, args: argparse.Namespace) -> int:
    if args.uri in (None, SCHEME):
        for b in s3.list_buckets()["Buckets"]:
            print(f"{_local_time(b['CreationDate'])} {b['Name']}")
        return 0
    bucket, prefix = parse_uri(args.uri)
    params = {"Bucket": bucket, "Prefix": prefix}
    if not args.recursive:
        params["Delimiter"] = "/"
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        for cp in page.get("CommonPrefixes", []):
            name = cp["Prefix"] if args.recursive else cp["Prefix"].split("/")[-2]
            print(f"{'PRE':>30} {name}/")
        for obj in page.get("Contents", []):
            name = obj["Key"] if args.recursive else obj["Key"].split("/")[-1]
            print(f"{_local_time(obj['LastModified'])} {obj['Size']:>10} {name}")
    return 0


# -- objects -----------------------------------------------------------------------------


def remove_object(s3: S3Client, args: argparse.Namespace) -> int:
    bucket, key = parse_uri(args.uri)
    if not key:
        raise CliError("InvalidArgument", f"{args.uri!r} names no key")
    s3.delete_object(Bucket=bucket, Key=key)
    print(f"delete: {args.uri}")
    return 0


def copy_command(s3: S3Client, args: argparse.Namespace) -> int:
    src_s3, dst_s3 = args.src.startswith(SCHEME), args.dst.startswith(SCHEME)
    if src_s3 and dst_s3:
        line = _copy_in_s3(s3, args)
    elif dst_s3:
        line = _upload(s3, args)
    elif src_s3:
        line = _download(s3, args)
    else:
        raise CliError("InvalidArgument", "cp needs at least one s3:// location")
    if line and not args.quiet:
        print(line)
    return 0


def _target_key(key: str, source_name: str) -> str:
    """A destination ending in "/" (or naming only the bucket) takes the source's name."""
    if key and not key.endswith("/"):
        return key
    if not source_name or source_name == "-":
        raise CliError("InvalidArgument", "the destination must name a key")
    return key + source_name


def _copy_in_s3(s3: S3Client, args: argparse.Namespace) -> str:
    src_bucket, src_key = parse_uri(args.src)
    if not src_key:
        raise CliError("InvalidArgument", f"{args.src!r} names no key")
    bucket, key = parse_uri(args.dst)
    key = _target_key(key, src_key.rsplit("/", 1)[-1])
    s3.copy_object(CopySource={"Bucket": src_bucket, "Key": src_key}, Bucket=bucket, Key=key)
    return f"copy: {args.src} to {SCHEME}{bucket}/{key}"


def _upload(s3: S3Client, args: argparse.Namespace) -> str:
    bucket, key = parse_uri(args.dst)
    key = _target_key(key, os.path.basename(args.src))
    content_type = args.content_type or (
        mimetypes.guess_type(args.src)[0] if args.src != "-" else None
    )
    extra = {"ContentType": content_type} if content_type else {}
    if args.src == "-":
        s3.upload_fileobj(sys.stdin.buffer, bucket, key, ExtraArgs=extra)
        return f"upload: - to {SCHEME}{bucket}/{key}"
    size = os.path.getsize(args.src)
    with _progress(size, f"upload {os.path.basename(args.src)}", not args.no_progress) as adv:
        s3.upload_file(args.src, bucket, key, ExtraArgs=extra, Callback=adv)
    return f"upload: {args.src} to {SCHEME}{bucket}/{key}"


def _head(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """HEAD the source, naming what is missing: a HEAD error has only its status."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "404":
            raise
    s3.list_objects_v2(Bucket=bucket, MaxKeys=0)  # raises NoSuchBucket for a missing bucket
    raise CliError("NoSuchKey", "The specified key does not exist.")


def _download(s3: S3Client, args: argparse.Namespace) -> str:
    bucket, key = parse_uri(args.src)
    if not key:
        raise CliError("InvalidArgument", f"{args.src!r} names no key")
    head = _head(s3, bucket, key)
    extra = {"VersionId": head["VersionId"]} if "VersionId" in head else {}
    if args.dst == "-":
        out = sys.stdout.buffer
        s3.download_fileobj(bucket, key, out, ExtraArgs=extra)
        out.flush()
        return ""
    dst = args.dst
    if os.path.isdir(dst) or dst.endswith(os.sep):
        dst = os.path.join(dst, key.rsplit("/", 1)[-1])
    directory = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(directory):
        raise CliError("FileNotFoundError", f"no such directory: {directory}")
    label = f"download {key.rsplit('/', 1)[-1]}"
    with _progress(head["ContentLength"], label, not args.no_progress) as advance:
        s3.download_file(bucket, key, dst, ExtraArgs=extra, Callback=advance)
    return f"download: {args.src} to {dst}"


@contextlib.contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Advance]:
    """A rich progress bar on stderr for transfers above PROGRESS_THRESHOLD."""
    if not enabled or total <= PROGRESS_THRESHOLD:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
