"""Size on disk and PUT/GET speed of one compressible body per storage class.

Run against a single node started with `engine serve --data DIR --listen ADDR`:

    .venv/bin/python bench/storage_class_report.py --endpoint ADDR --data DIR

The body is 66 MiB of access-log-like text; the shard bytes each PUT added under DIR
show what zstd saves for STANDARD_IA (and GLACIER) against STANDARD.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.client import client


def shard_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("shards/**/*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--data", type=Path, required=True, help="the node's --data directory")
    parser.add_argument("--bucket", default="class-report")
    args = parser.parse_args()
    s3 = client("s3", endpoint=args.endpoint)
    s3.create_bucket(Bucket=args.bucket)
    text = b"".join(b"%09d GET /api/v1/objects?key=%d 200 1234 0.004s\n" % (i, i * 7)
                    for i in range(1_200_000))
    for cls in ("STANDARD", "STANDARD_IA"):
        before = shard_bytes(args.data)
        start = time.perf_counter()
        s3.put_object(Bucket=args.bucket, Key=cls, Body=text, StorageClass=cls)
        put = time.perf_counter() - start
        stored = shard_bytes(args.data) - before
        start = time.perf_counter()
        body = s3.get_object(Bucket=args.bucket, Key=cls)["Body"].read()
        get = time.perf_counter() - start
        assert body == text, "read back differs"
        print(f"{cls:12} {len(text) / 2**20:.1f} MiB stored as {stored / 2**20:.1f} MiB; "
              f"PUT {len(text) / put / 1e6:.0f} MB/s, GET {len(text) / get / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
