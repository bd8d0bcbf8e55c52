"""`engine s3 ...` and `engine status` as a user runs them: subprocesses against a server."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(shared_server):
    """One node for the module: each test works in buckets it names itself, and counts
    in `engine status` are compared before and after."""
    return shared_server


def engine(server, *args: str, stdin: bytes | None = None, cwd: Path | None = None,
           endpoint: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m engine ARGS --endpoint E` and return the finished process."""
    cmd = [sys.executable, "-m", "engine", *args, "--endpoint", endpoint or server.endpoint]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, cwd=cwd)


def ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    return proc.stdout.decode()


def fails(proc: subprocess.CompletedProcess[bytes], code: str) -> str:
    """Exit 1 with exactly one `engine: <Code>: <Message>` line and no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == 1, (proc.returncode, err)
    assert "Traceback" not in err
    assert err.startswith(f"engine: {code}: "), err
    assert err.count("\n") == 1, err
    return err


def test_transfer_round_trip(server, tmp_path):
    ok(engine(server, "s3", "mb", "s3://photos"))
    assert "photos" in ok(engine(server, "s3", "ls")).split()

    big = tmp_path / "big.bin"
    data = os.urandom(9 * MIB + 12345)  # above the progress-bar threshold
    big.write_bytes(data)
    out = ok(engine(server, "s3", "cp", str(big), "s3://photos/raw/big.bin"))
    assert out.strip() == f"upload: {big} to s3://photos/raw/big.bin"

    down = tmp_path / "down.bin"
    out = ok(engine(server, "s3", "cp", "s3://photos/raw/big.bin", str(down)))
    assert out.strip() == f"download: s3://photos/raw/big.bin to {down}"
    assert hashlib.sha256(down.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".engine-cp-")]

    streamed = engine(server, "s3", "cp", "s3://photos/raw/big.bin", "-")
    assert streamed.returncode == 0 and streamed.stderr == b""
    assert streamed.stdout == data

    ok(engine(server, "s3", "cp", "-", "s3://photos/notes/stdin.txt", stdin=b"from stdin\n"))
    assert engine(server, "s3", "cp", "s3://photos/notes/stdin.txt", "-").stdout == b"from stdin\n"

    out = ok(engine(server, "s3", "cp", "s3://photos/raw/big.bin", "s3://photos/copy.bin"))
    assert out.strip() == "copy: s3://photos/raw/big.bin to s3://photos/copy.bin"
    assert engine(server, "s3", "cp", "s3://photos/copy.bin", "-").stdout == data


def test_cp_uses_multipart_above_8_mib(server, tmp_path):
    """cp goes through the transfer manager: 8 MiB parts, from files and from stdin."""
    from engine.client import client

    ok(engine(server, "s3", "mb", "s3://parts"))
    data = os.urandom(9 * MIB)
    src = tmp_path / "nine.bin"
    src.write_bytes(data)
    ok(engine(server, "s3", "cp", str(src), "s3://parts/file", "--no-progress"))
    ok(engine(server, "s3", "cp", "-", "s3://parts/stdin", stdin=data))
    parts = [data[: 8 * MIB], data[8 * MIB :]]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    with client("s3", endpoint=server.endpoint) as s3:
        for key in ("file", "stdin"):
            assert s3.head_object(Bucket="parts", Key=key)["ETag"] == f'"{etag}-2"'
        assert "Uploads" not in s3.list_multipart_uploads(Bucket="parts")
    assert engine(server, "s3", "cp", "s3://parts/stdin", "-").stdout == data


def test_destination_names_and_content_type(server, tmp_path):
    ok(engine(server, "s3", "mb", "s3://docs"))
    page = tmp_path / "index.html"
    page.write_text("<h1>hi</h1>")
    ok(engine(server, "s3", "cp", str(page), "s3://docs/site/"))  # key takes the file's name
    target = tmp_path / "out"
    target.mkdir()
    ok(engine(server, "s3", "cp", "s3://docs/site/index.html", str(target)))
    assert (target / "index.html").read_text() == "<h1>hi</h1>"

    from engine.client import client

    with client("s3", endpoint=server.endpoint) as s3:
        assert s3.head_object(Bucket="docs", Key="site/index.html")["ContentType"] == "text/html"


def test_ls_like_aws_cli(server, tmp_path):
    ok(engine(server, "s3", "mb", "s3://tree"))
    src = tmp_path / "f"
    for key, size in (("a.txt", 3), ("dir/b.txt", 10), ("dir/sub/c.txt", 1234), ("z.txt", 0)):
        src.write_bytes(b"x" * size)
        ok(engine(server, "s3", "cp", str(src), f"s3://tree/{key}", "--quiet"))

    lines = ok(engine(server, "s3", "ls", "s3://tree")).splitlines()
    assert lines[0] == f"{'PRE':>30} dir/"
    files = [line.split() for line in lines[1:]]
    assert [(f[2], f[3]) for f in files] == [("3", "a.txt"), ("0", "z.txt")]
    assert all(len(line) > 30 and line[19] == " " for line in lines[1:])  # date, size, name

    lines = ok(engine(server, "s3", "ls", "s3://tree/dir/")).splitlines()
    assert lines[0].split() == ["PRE", "sub/"]
    assert lines[1].split()[2:] == ["10", "b.txt"]

    lines = ok(engine(server, "s3", "ls", "s3://tree", "--recursive")).splitlines()
    assert [line.split()[-1] for line in lines] == ["a.txt", "dir/b.txt", "dir/sub/c.txt", "z.txt"]
    assert ok(engine(server, "s3", "ls", "s3://tree/nothing-here")) == ""


def test_rm_and_rb(server, tmp_path):
    ok(engine(server, "s3", "mb", "s3://trash"))
    f = tmp_path / "f"
    f.write_bytes(b"junk")
    for key in ("one", "two", "dir/three"):
        ok(engine(server, "s3", "cp", str(f), f"s3://trash/{key}", "--quiet"))

    assert ok(engine(server, "s3", "rm", "s3://trash/one")).strip() == "delete: s3://trash/one"
    fails(engine(server, "s3", "cp", "s3://trash/one", "-"), "NoSuchKey")
    fails(engine(server, "s3", "rb", "s3://trash"), "BucketNotEmpty")

    out = ok(engine(server, "s3", "rb", "s3://trash", "--force"))
    assert set(out.splitlines()) == {
        "delete: s3://trash/two", "delete: s3://trash/dir/three", "remove_bucket: trash"}
    assert "trash" not in ok(engine(server, "s3", "ls")).split()
    ok(engine(server, "s3", "mb", "s3://empty"))
    assert ok(engine(server, "s3", "rb", "s3://empty")).strip() == "remove_bucket: empty"


def test_errors_are_one_line_with_code(server, tmp_path):
    err = fails(engine(server, "s3", "mb", "s3://UPPER"), "InvalidBucketName")
    assert err == "engine: InvalidBucketName: The specified bucket is not valid.\n"
    ok(engine(server, "s3", "mb", "s3://exists"))
    fails(engine(server, "s3", "mb", "s3://exists"), "BucketAlreadyOwnedByYou")
    fails(engine(server, "s3", "ls", "s3://no-such-bucket"), "NoSuchBucket")
    fails(engine(server, "s3", "rm", "s3://no-such-bucket/k"), "NoSuchBucket")
    fails(engine(server, "s3", "rb", "s3://no-such-bucket"), "NoSuchBucket")
    err = fails(engine(server, "s3", "cp", "s3://exists/missing", str(tmp_path / "x")),
                "NoSuchKey")
    assert "The specified key does not exist." in err
    assert not (tmp_path / "x").exists()
    fails(engine(server, "s3", "cp", str(tmp_path / "absent"), "s3://exists/k"),
          "FileNotFoundError")
    (tmp_path / "present").write_bytes(b"x")
    fails(engine(server, "s3", "cp", str(tmp_path / "present"), "s3://no-such-bucket/k"),
          "NoSuchBucket")
    fails(engine(server, "s3", "cp", "s3://no-such-bucket/k", str(tmp_path / "y")),
          "NoSuchBucket")
    fails(engine(server, "s3", "cp", "s3://no-such-bucket/k", "-"), "NoSuchBucket")
    fails(engine(server, "s3", "cp", "a", "b"), "InvalidArgument")
    fails(engine(server, "s3", "mb", "exists"), "InvalidArgument")
    fails(engine(server, "s3", "rm", "s3://exists"), "InvalidArgument")
    fails(engine(server, "s3", "cp", "-", "s3://exists/", stdin=b"x"), "InvalidArgument")


def test_unreachable_endpoint_exits_1(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
        fails(engine(server, "s3", "ls", endpoint=dead), "UNAVAILABLE")
        fails(engine(server, "status", endpoint=dead), "UNAVAILABLE")
    fails(engine(server, "s3", "ls", endpoint="http://host:1/path"), "InvalidArgument")
    fails(engine(server, "status", endpoint="http://host:1/path"), "InvalidArgument")


def test_status_json(server, tmp_path):
    before = json.loads(ok(engine(server, "status", "--json")))
    ok(engine(server, "s3", "mb", "s3://counted"))
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    ok(engine(server, "s3", "cp", str(f), "s3://counted/a", "--quiet"))
    ok(engine(server, "s3", "cp", str(f), "s3://counted/b", "--quiet"))
    status = json.loads(ok(engine(server, "status", "--json")))

    assert isinstance(status["cluster_name"], str)
    [node] = status["nodes"]
    assert node["address"] == server.endpoint
    assert node["node_id"] and node["zone"] and node["version"]
    assert node["healthy"] is True
    assert isinstance(node["uptime_seconds"], float) and node["uptime_seconds"] >= 0
    assert node["hotpath_backend"] in ("sse4.2", "armv8-crc", "software")
    assert node["drives"]
    for drive in node["drives"]:
        assert Path(drive["path"]).is_relative_to(server.data_dir)
        assert isinstance(drive["free_bytes"], int)
        assert 0 < drive["free_bytes"] <= drive["total_bytes"]
    assert node["buckets"] == before["nodes"][0]["buckets"] + 1
    assert node["objects"] == before["nodes"][0]["objects"] + 2
    assert node["reachable"] is True and node["error"] == ""

    # A single node is a cluster of one: one identity-coded set, one queue group it
    # leads, every cache slot its own.
    assert status["answered_by"] == node["node_id"]
    [eset] = status["erasure_sets"]
    assert (eset["data_shards"], eset["parity_shards"], eset["state"]) == (1, 0, "healthy")
    assert [(d["node_id"], d["online"]) for d in eset["drives"]] == [(node["node_id"], True)]
    assert (eset["objects"], eset["shards_degraded"]) == (node["objects"], 0)
    assert eset["last_heal"] is None  # no scanner on a single node; `admin heal` sets it
    [group] = status["queue_groups"]
    assert (group["members"], group["leader"], group["has_quorum"]) == (
        [node["node_id"]], node["node_id"], True)
    assert status["cache"]["ranges"] == [
        {"first": 0, "last": 16383, "owners": [node["node_id"]], "serving": node["node_id"]}]

    ok(engine(server, "admin", "heal"))
    heal = json.loads(ok(engine(server, "status", "--json")))["erasure_sets"][0]["last_heal"]
    assert (heal["kind"], heal["node_id"]) == ("admin heal", node["node_id"])
    assert heal["report"]["objects_checked"] == node["objects"]


def test_status_table(server):
    out = ok(engine(server, "status"))
    status = json.loads(ok(engine(server, "status", "--json")))
    node = status["nodes"][0]
    for text in (node["node_id"], node["address"], node["zone"], "healthy", "free of",
                 "Erasure sets", "1+0", "Queue groups", "Cache slots", "0-16383"):
        assert text in out, text
    assert "unreachable" not in out
