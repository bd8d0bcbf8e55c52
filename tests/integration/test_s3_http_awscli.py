"""aws-cli against the S3 REST endpoint, as a user types it: make a bucket, copy a file
up and down, presign a link, remove the object and the bucket. (Listing a bucket's
keys, `aws s3 ls s3://bucket`, waits for ListObjectsV2: docs/s3-api.md.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from helpers_s3_http import bucket_name

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
pytestmark = pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")


def aws(server, *args: str) -> str:
    assert AWS is not None
    done = subprocess.run([AWS, "--endpoint-url", server.http_url, *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AWS_PAGER": ""})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_aws_s3_commands(shared_server, tmp_path):
    name = bucket_name("cli")
    source = tmp_path / "photo.jpg"
    source.write_bytes(os.urandom(300_000))
    assert f"make_bucket: {name}" in aws(shared_server, "s3", "mb", f"s3://{name}")
    assert name in aws(shared_server, "s3", "ls")
    aws(shared_server, "s3", "cp", str(source), f"s3://{name}/dir/photo.jpg")
    head = aws(shared_server, "s3api", "head-object", "--bucket", name, "--key",
               "dir/photo.jpg")
    assert '"ContentLength": 300000' in head and "image/jpeg" in head
    copy = tmp_path / "copy.jpg"
    aws(shared_server, "s3", "cp", f"s3://{name}/dir/photo.jpg", str(copy))
    assert copy.read_bytes() == source.read_bytes()
    link = aws(shared_server, "s3", "presign", f"s3://{name}/dir/photo.jpg").strip()
    with urllib.request.urlopen(link, timeout=30) as answer:
        assert answer.read() == source.read_bytes()
    aws(shared_server, "s3", "rm", f"s3://{name}/dir/photo.jpg")
    assert f"remove_bucket: {name}" in aws(shared_server, "s3", "rb", f"s3://{name}")
    assert name not in aws(shared_server, "s3", "ls")
