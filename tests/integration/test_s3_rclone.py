"""rclone, unchanged, against the S3 REST endpoint: what a backup or sync job does.

rclone (Debian's package, installed by deploy/ci/system-packages.sh) is configured the
way its docs tell users to for "other" S3 providers, through environment variables:
an endpoint, a key pair, path-style addressing. A 12 MiB file with a 5 MiB upload
cutoff goes up as a multipart upload; `check` compares every file's size and MD5.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from credentials import ROOT_KEY_ID, ROOT_SECRET

RCLONE = shutil.which("rclone")
pytestmark = pytest.mark.skipif(RCLONE is None, reason="rclone is not installed "
                                "(deploy/ci/system-packages.sh installs it as root)")


def rclone(server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RCLONE_CONFIG_ENGINE_TYPE": "s3",
           "RCLONE_CONFIG_ENGINE_PROVIDER": "Other",
           "RCLONE_CONFIG_ENGINE_ENDPOINT": server.http_url,
           "RCLONE_CONFIG_ENGINE_ACCESS_KEY_ID": ROOT_KEY_ID,
           "RCLONE_CONFIG_ENGINE_SECRET_ACCESS_KEY": ROOT_SECRET,
           "RCLONE_CONFIG_ENGINE_REGION": "us-east-1",
           "RCLONE_CONFIG_ENGINE_FORCE_PATH_STYLE": "true",
           "RCLONE_CONFIG": os.devnull}
    assert RCLONE is not None
    return subprocess.run([RCLONE, "--retries", "1", "--low-level-retries", "1", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rclone_copies_syncs_checks_and_deletes(server, tmp_path: Path):
    local = tmp_path / "site"
    (local / "img").mkdir(parents=True)
    (local / "index.html").write_text("<h1>hi</h1>")
    (local / "img" / "a b+c.png").write_bytes(os.urandom(3000))
    (local / "big.bin").write_bytes(os.urandom(12 * 1024 * 1024))

    ok(rclone(server, "mkdir", "engine:rclone-bucket"))
    ok(rclone(server, "copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
              str(local), "engine:rclone-bucket/site"))
    listed = ok(rclone(server, "ls", "engine:rclone-bucket"))
    assert sorted(line.split(maxsplit=1)[1] for line in listed.splitlines()) == [
        "site/big.bin", "site/img/a b+c.png", "site/index.html"]
    ok(rclone(server, "check", str(local), "engine:rclone-bucket/site"))
    assert ok(rclone(server, "cat", "engine:rclone-bucket/site/index.html")) == "<h1>hi</h1>"

    (local / "index.html").unlink()
    (local / "new.txt").write_text("new")
    ok(rclone(server, "sync", str(local), "engine:rclone-bucket/site"))
    listed = ok(rclone(server, "lsf", "-R", "--files-only", "engine:rclone-bucket/site"))
    assert sorted(listed.splitlines()) == ["big.bin", "img/a b+c.png", "new.txt"]

    back = tmp_path / "back"
    ok(rclone(server, "copy", "engine:rclone-bucket/site", str(back)))
    assert (back / "big.bin").read_bytes() == (local / "big.bin").read_bytes()
    ok(rclone(server, "purge", "engine:rclone-bucket"))
    assert "rclone-bucket" not in ok(rclone(server, "lsd", "engine:"))
