"""aws-cli's bulk commands against the S3 REST endpoint, as a user runs them: a file
large enough to go multipart (thresholds lowered in the user's config file, as
`aws configure set` writes them), `aws s3 sync` both ways, `aws s3 ls` with prefixes,
server-side copies and moves, `aws s3 rm --recursive` and `aws s3api` paging."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_s3_http import bucket_name

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
pytestmark = pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment with a config file of its own, multipart from 5 MiB on."""
    config = tmp_path_factory.mktemp("awscli") / "config"
    config.write_text("")
    env = {**os.environ, "AWS_PAGER": "", "AWS_CONFIG_FILE": str(config)}
    for name, value in (("default.s3.multipart_threshold", "5MB"),
                        ("default.s3.multipart_chunksize", "5MB")):
        assert AWS is not None
        subprocess.run([AWS, "configure", "set", name, value], env=env, check=True,
                       timeout=60)
    assert "multipart_threshold = 5MB" in config.read_text()
    return env


@pytest.fixture
def aws(shared_server, cli_env):
    def run(*args: str) -> str:
        assert AWS is not None
        done = subprocess.run([AWS, "--endpoint-url", shared_server.http_url, *args],
                              capture_output=True, text=True, timeout=180, env=cli_env)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return run


@pytest.fixture
def bucket(aws):
    name = bucket_name("cli")
    aws("s3", "mb", f"s3://{name}")
    return name


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_large_file_goes_up_and_down_in_parts(aws, bucket, tmp_path):
    source = tmp_path / "disk.img"
    source.write_bytes(hashlib.sha256(b"disk").digest() * (12 * MIB // 32) + b"tail")
    aws("s3", "cp", str(source), f"s3://{bucket}/images/disk.img")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key",
                          "images/disk.img"))
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == source.stat().st_size
    back = tmp_path / "back.img"
    aws("s3", "cp", f"s3://{bucket}/images/disk.img", str(back))
    assert back.read_bytes() == source.read_bytes()
    assert json.loads(aws("s3api", "list-multipart-uploads", "--bucket", bucket)).get(
        "Uploads") is None


def test_sync_both_ways_then_remove_recursively(aws, bucket, tmp_path):
    local = tmp_path / "site"
    for name, body in (("index.html", b"<h1>hi</h1>"), ("css/main.css", b"body{}"),
                       ("img/a b.png", b"\x89PNG"), ("img/deep/x+y.txt", b"plus")):
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(body)
    out = aws("s3", "sync", str(local), f"s3://{bucket}/site")
    assert out.count("upload:") == 4
    (local / "index.html").write_bytes(b"<h1>changed</h1>")
    again = aws("s3", "sync", str(local), f"s3://{bucket}/site")
    assert again.count("upload:") == 1 and "index.html" in again
    top = aws("s3", "ls", f"s3://{bucket}/site/")
    assert "PRE css/" in top and "PRE img/" in top and "index.html" in top
    listed = aws("s3", "ls", f"s3://{bucket}/site/", "--recursive")
    assert sorted(line.split(maxsplit=3)[3] for line in listed.splitlines()) == \
        ["site/css/main.css", "site/img/a b.png", "site/img/deep/x+y.txt", "site/index.html"]
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/site", str(down))
    assert tree(down) == tree(local)
    removed = aws("s3", "rm", f"s3://{bucket}/site", "--recursive")
    assert removed.count("delete:") == 4
    assert aws("s3", "ls", f"s3://{bucket}/", "--recursive") == ""


def test_server_side_copy_and_move(aws, bucket, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("notes")
    aws("s3", "cp", str(source), f"s3://{bucket}/a/notes.txt")
    aws("s3", "cp", f"s3://{bucket}/a/notes.txt", f"s3://{bucket}/b/notes.txt")
    aws("s3", "mv", f"s3://{bucket}/a/notes.txt", f"s3://{bucket}/c/notes.txt")
    listed = aws("s3", "ls", f"s3://{bucket}/", "--recursive")
    assert sorted(line.split()[-1] for line in listed.splitlines()) == \
        ["b/notes.txt", "c/notes.txt"]


def test_s3api_pages_and_batch_deletes(aws, bucket, tmp_path):
    source = tmp_path / "k"
    source.write_text("v")
    keys = [f"k{i:02d}" for i in range(7)]
    for key in keys:
        aws("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(source))
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket, "--page-size",
                            "3"))
    assert [o["Key"] for o in listed["Contents"]] == keys
    batch = json.dumps({"Objects": [{"Key": key} for key in keys[:5]], "Quiet": False})
    deleted = json.loads(aws("s3api", "delete-objects", "--bucket", bucket, "--delete",
                             batch))
    assert sorted(d["Key"] for d in deleted["Deleted"]) == keys[:5]
    left = json.loads(aws("s3api", "list-objects", "--bucket", bucket))
    assert [o["Key"] for o in left["Contents"]] == keys[5:]
