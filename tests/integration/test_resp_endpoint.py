"""The RESP endpoint of a real `engine serve` against real Redis clients: redis-py
(RESP2 and RESP3), redis-cli (inline and multibulk), redis-benchmark, and raw sockets
for malformed input. Texts are Redis 7's (docs/cache.md, "RESP endpoint")."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from ports import free_port

from engine.client import client
from engine.cluster.cert_authority import create_ca, issue, write_pem

needs_redis_tools = pytest.mark.skipif(
    shutil.which("redis-cli") is None or shutil.which("redis-benchmark") is None,
    reason="redis-tools not installed (deploy/ci/system-packages.sh installs them)")


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.fixture
def r(node):
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET) as c:
        yield c


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """What the node answers to ``data`` until it closes the connection (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        chunks = []
        s.settimeout(1.0)
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_strings_and_keys(node, protocol):
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     protocol=protocol, decode_responses=True) as r:
        p = f"p{protocol}:"
        assert r.ping() is True
        assert r.set(p + "a", "1") is True
        assert r.set(p + "a", "2", nx=True) is None
        assert r.set(p + "a", "3", xx=True, get=True) == "1"
        assert r.set(p + "missing", "x", xx=True) is None
        assert r.get(p + "a") == "3" and r.get(p + "missing") is None
        assert r.incr(p + "a") == 4 and r.decrby(p + "a", 10) == -6
        assert r.incrby(p + "a", 6) == 0 and r.decr(p + "a") == -1
        assert r.mset({p + "x": "1", p + "y": "2"}) is True
        assert r.mget([p + "x", p + "nope", p + "y"]) == ["1", None, "2"]
        assert r.exists(p + "x", p + "y", p + "nope", p + "x") == 3
        assert r.ttl(p + "x") == -1 and r.ttl(p + "nope") == -2
        assert r.expire(p + "x", 100) is True and 99 <= r.ttl(p + "x") <= 100
        assert r.expire(p + "x", 50, gt=True) is False
        assert r.pexpire(p + "x", 200_000, gt=True) is True
        assert 199_000 < r.pttl(p + "x") <= 200_000
        assert r.expireat(p + "y", int(time.time()) + 1000) is True
        assert r.set(p + "t", "v", ex=100) is True and r.ttl(p + "t") == 100
        assert r.set(p + "t", "w", keepttl=True) is True and r.ttl(p + "t") == 100
        assert r.set(p + "t", "w", pxat=int(time.time() * 1000) + 5000) is True
        assert r.delete(p + "x", p + "y", p + "nope") == 2
        assert r.unlink(p + "t") == 1
        with r.pipeline(transaction=False) as pipe:
            for i in range(100):
                pipe.set(f"{p}pipe{i}", i)
                pipe.get(f"{p}pipe{i}")
            replies = pipe.execute()
        assert replies == [x for i in range(100) for x in (True, str(i))]


def test_errors_carry_redis_texts(r):
    r.set("err:s", "abc")
    cases = [
        (lambda: r.incr("err:s"), "value is not an integer or out of range"),
        (lambda: r.execute_command("INCRBY", "err:n", "1.5"),
         "value is not an integer or out of range"),
        (lambda: r.execute_command("GET"), "wrong number of arguments for 'get' command"),
        (lambda: r.execute_command("GET", "a", "b"),
         "wrong number of arguments for 'get' command"),
        (lambda: r.execute_command("SET", "k", "v", "NX", "XX"), "syntax error"),
        (lambda: r.execute_command("SET", "k", "v", "EX", "0"),
         "invalid expire time in 'set' command"),
        (lambda: r.execute_command("SET", "k", "v", "EX", "ten"),
         "value is not an integer or out of range"),
        (lambda: r.execute_command("MSET", "a", "1", "b"),
         "wrong number of arguments for 'mset' command"),
        (lambda: r.execute_command("EXPIRE", "k", "10", "NX", "XX"),
         "NX and XX, GT or LT options at the same time are not compatible"),
        (lambda: r.execute_command("FOO", "bar", "baz"),
         "unknown command 'FOO', with args beginning with: 'bar' 'baz' "),
        (lambda: r.execute_command("CLIENT", "NOPE"),
         "unknown subcommand 'NOPE'. Try CLIENT HELP."),
        (lambda: r.execute_command("SELECT", "1"), "DB index is out of range"),
        (lambda: r.execute_command("CLUSTER", "SLOTS"),
         "This instance has cluster support disabled"),
        (lambda: r.execute_command("READONLY"), "This instance has cluster support disabled"),
        (lambda: r.execute_command("ASKING"), "This instance has cluster support disabled"),
    ]
    for call, text in cases:
        with pytest.raises(redis.ResponseError) as err:
            call()
        assert str(err.value) == text


def test_connection_and_server_commands(node, r):
    assert r.execute_command("SELECT", "0") is True
    assert r.echo("hi") == b"hi"
    assert r.client_setname("worker-1") is True and r.client_getname() == "worker-1"
    me = r.client_id()
    listed = r.client_list()
    assert any(c["id"] == str(me) and c["name"] == "worker-1" for c in listed)
    assert r.acl_whoami() == ROOT_KEY_ID
    assert r.config_get("maxmemory*") == {"maxmemory": str(256 * 1024 * 1024),
                                          "maxmemory-policy": "allkeys-lru"}
    assert r.config_get("save") == {"save": ""} and r.config_get("nosuch") == {}
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 5 and 0 <= micros < 1_000_000
    info = r.info()
    assert info["redis_mode"] == "standalone" and info["tcp_port"] == node.redis_port
    assert info["maxmemory"] == 256 * 1024 * 1024 and info["connected_clients"] >= 1
    assert set(r.info("stats")) >= {"keyspace_hits", "keyspace_misses", "evicted_keys",
                                    "expired_keys", "total_commands_processed"}
    r.set("info:k", "v")
    assert r.dbsize() >= 1 and r.info("keyspace")["db0"]["keys"] == r.dbsize()
    commands = r.command()
    assert r.command_count() == len(commands)
    assert commands["get"]["arity"] == 2 and commands["get"]["first_key_pos"] == 1
    assert set(commands["get"]["flags"]) == {"readonly", "fast"}
    mset = r.execute_command("COMMAND", "INFO", "mset")["mset"]
    assert (mset["arity"], mset["flags"], mset["first_key_pos"], mset["last_key_pos"],
            mset["step_count"]) == (-3, ["write"], 1, -1, 2)
    auth = f"AUTH {ROOT_KEY_ID} {ROOT_SECRET}\r\n".encode()
    assert raw(node.redis_port, auth + b"COMMAND INFO nosuch\r\nQUIT\r\n") == (
        b"+OK\r\n*1\r\n$-1\r\n+OK\r\n")


def test_data_is_shared_with_the_grpc_sdk(node, r):
    cache = client("cache", endpoint=node.endpoint)
    r.set("shared:resp", "from resp")
    assert cache.get("shared:resp") == b"from resp"
    cache.set("shared:sdk", "from sdk", ex=100)
    assert r.get("shared:sdk") == b"from sdk" and 99 <= r.ttl("shared:sdk") <= 100


def test_auth_noauth_wrongpass_and_acl_users(node):
    port = node.redis_port
    # redis-py 8 opens with HELLO 3, which Redis refuses this way before AUTH
    with redis.Redis(port=port) as anonymous, pytest.raises(
            redis.AuthenticationError, match=r"Authentication required|HELLO must be called"):
        anonymous.get("k")
    assert raw(port, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nQUIT\r\n") == (
        b"-NOAUTH Authentication required.\r\n+OK\r\n")
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        redis.Redis(port=port, username=ROOT_KEY_ID, password="wrong").ping()
    # An ElastiCache user (RBAC): its access string decides, with Redis's NOPERM texts.
    ec = client("elasticache", endpoint=node.endpoint)
    ec.create_user(UserId="reader", UserName="reader", Engine="redis",
                   AccessString="on ~app:* +@read +@connection +acl|whoami",
                   Passwords=["reader-password-0001"])
    with redis.Redis(port=port, username=ROOT_KEY_ID, password=ROOT_SECRET) as admin:
        admin.set("app:x", "1")
        acl = admin.acl_list()
        assert any(line.startswith("user reader on #") for line in acl)
    with redis.Redis(port=port, username="reader", password="reader-password-0001",
                     protocol=3) as reader:
        assert reader.get("app:x") == b"1" and reader.acl_whoami() == b"reader"
        with pytest.raises(redis.exceptions.NoPermissionError) as denied:
            reader.set("app:x", "2")
        assert str(denied.value) == "User reader has no permissions to run the 'set' command"
        with pytest.raises(redis.exceptions.NoPermissionError) as denied:
            reader.get("other:x")
        assert str(denied.value) == "No permissions to access a key"
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.acl_list()
    # AUTH <password> means the default user, which is off until an admin turns it on.
    assert raw(port, b"AUTH reader-password-0001\r\nQUIT\r\n") == (
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n")
    hello = raw(port, b"HELLO 3 AUTH reader reader-password-0001 SETNAME r1\r\nCLIENT GETNAME\r\n"
                b"QUIT\r\n")
    assert hello.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
    assert hello.endswith(b"$2\r\nr1\r\n+OK\r\n")
    assert raw(port, b"HELLO 3\r\nQUIT\r\n").startswith(b"-NOAUTH HELLO must be called")
    assert raw(port, b"HELLO 4\r\nQUIT\r\n") == (
        b"-NOPROTO unsupported protocol version\r\n+OK\r\n")


def test_inline_commands_and_malformed_input(node, r):
    port = node.redis_port
    auth = f"AUTH {ROOT_KEY_ID} {ROOT_SECRET}\r\n".encode()
    assert raw(port, auth + b'SET inline:k "hello world"\r\nGET inline:k\r\n'
               b"PING\r\nQUIT\r\n") == b"+OK\r\n+OK\r\n$11\r\nhello world\r\n+PONG\r\n+OK\r\n"
    assert raw(port, auth + b'GET "unbalanced\r\nPING\r\n') == (
        b"+OK\r\n-ERR Protocol error: unbalanced quotes in request\r\n")
    assert raw(port, auth + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999999\r\n") == (
        b"+OK\r\n-ERR Protocol error: invalid bulk length\r\n")
    assert raw(port, auth + b"*2000000\r\n") == (
        b"+OK\r\n-ERR Protocol error: invalid multibulk length\r\n")
    assert raw(port, b"*1\r\n:1\r\n") == b"-ERR Protocol error: expected '$', got ':'\r\n"
    assert raw(port, b"\x00\xff garbage \xfe\r\n*\r\n") .startswith(b"-ERR unknown command")
    assert r.ping() is True  # the node keeps serving everyone else
    assert r.get("inline:k") == b"hello world"


@needs_redis_tools
def test_redis_cli_with_user_and_password(node):
    def cli(*args: str) -> str:
        done = subprocess.run(["redis-cli", "-p", str(node.redis_port), "--user", ROOT_KEY_ID,
                               "--pass", ROOT_SECRET, "--no-auth-warning", *args],
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout.strip()

    assert cli("SET", "cli:k", "value with spaces") == "OK"
    assert cli("GET", "cli:k") == "value with spaces"
    assert cli("INCR", "cli:n") == "1"
    assert cli("NOSUCH") == "ERR unknown command 'NOSUCH', with args beginning with:"
    # what a user types in redis-cli's prompt, piped: one command per line
    piped = subprocess.run(["redis-cli", "-p", str(node.redis_port), "--user", ROOT_KEY_ID,
                            "--pass", ROOT_SECRET, "--no-auth-warning"],
                           input='set cli:q "a b"\nget cli:q\n', capture_output=True,
                           text=True, timeout=30, check=True)
    assert piped.stdout.split("\n")[:2] == ["OK", "a b"]


@needs_redis_tools
def test_redis_benchmark_finishes_without_errors(node):
    # MSET: 21 arguments right behind the AUTH redis-benchmark sends in front of them
    done = subprocess.run(["redis-benchmark", "-p", str(node.redis_port), "--user", ROOT_KEY_ID,
                           "-a", ROOT_SECRET, "-t", "set,get,mset", "-n", "2000", "-c", "10",
                           "-q"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "requests per second" in out and "error" not in out.lower(), out


def test_insecure_no_auth_and_maxclients(module_server_factory):
    node = module_server_factory("--insecure-no-auth", "--redis-maxclients", "2")
    with redis.Redis(port=node.redis_port) as a, redis.Redis(port=node.redis_port) as b:
        assert a.set("open", "1") is True and b.get("open") == b"1"
        assert a.acl_whoami() == "default"
        with pytest.raises(redis.AuthenticationError, match="without any password configured"):
            a.execute_command("AUTH", "anything")
        assert a.execute_command("AUTH", "default", "anything") is True
        assert raw(node.redis_port, b"") == b"-ERR max number of clients reached\r\n"
    deadline = time.monotonic() + 5
    while raw(node.redis_port, b"PING\r\nQUIT\r\n") != b"+PONG\r\n+OK\r\n":
        assert time.monotonic() < deadline, "a freed slot is never reused"



def test_a_tls_node_serves_resp_over_tls(tmp_path):
    ca = create_ca("server CA")
    write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    write_pem(issue(ca, "server", ["127.0.0.1"]), tmp_path / "s.pem", tmp_path / "s-key.pem")
    port = free_port()
    with open(tmp_path / "node.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--data", str(tmp_path / "data"),
             "--listen", f"127.0.0.1:{free_port()}", "--http-listen", "off",
             "--redis-listen", f"127.0.0.1:{port}", "--tls-cert", str(tmp_path / "s.pem"),
             "--tls-key", str(tmp_path / "s-key.pem")], stdout=log, stderr=log)
    try:
        tls = redis.Redis(port=port, username=ROOT_KEY_ID, password=ROOT_SECRET, ssl=True,
                          ssl_ca_certs=str(tmp_path / "ca.pem"))
        deadline = time.monotonic() + 30
        while True:
            try:
                assert tls.ping() is True
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    (tmp_path / "node.log").read_text())
                time.sleep(0.1)
        assert tls.set("tls:k", "v") is True and tls.get("tls:k") == b"v"
        with pytest.raises(redis.ConnectionError):  # no plaintext on a TLS node
            redis.Redis(port=port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                        socket_timeout=5).ping()
        tls.close()
    finally:
        proc.kill()
        proc.wait(10)
