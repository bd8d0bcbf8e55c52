"""A TLS single node, as `engine serve --tls-cert/--tls-key [--tls-client-ca]` runs it,
called by the SDK and the CLI as a user would: trusting the right CA works; the wrong
trust, plaintext, or a missing client certificate fail at once with a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from health import wait_healthy
from ports import free_port

from engine.client import EndpointConnectionError, InsecureTLSWarning, client
from engine.cluster.cert_authority import Pem, create_ca, issue, write_pem

FAST = 5.0  # seconds: a refused handshake is an answer, never a wait for the timeout


class Pki:
    """A server CA with a server certificate for 127.0.0.1, and a separate client CA."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = self._write("ca", create_ca("server CA"))
        self._write("server", issue(self.ca, "server", ["127.0.0.1"]))
        self.client_ca = self._write("client-ca", create_ca("client CA"))
        self._write("client", issue(self.client_ca, "app", []))
        self._write("stranger", issue(create_ca("another CA"), "stranger", []))
        self._write("other-ca", create_ca("a CA nobody used"))

    def _write(self, name: str, pem: Pem) -> Pem:
        write_pem(pem, self.path(name), self.key(name))
        return pem

    def path(self, name: str) -> Path:
        return self.root / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.root / f"{name}-key.pem"

    def pair(self, name: str) -> tuple[str, str]:
        return str(self.path(name)), str(self.key(name))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    (tmp_path / "pki").mkdir()
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_server(tmp_path: Path, pki: Pki) -> Iterator[Callable[..., str]]:
    """Start `engine serve` with TLS (and extra flags); returns its https:// endpoint."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> str:
        port = free_port()
        data = tmp_path / f"data-{port}"
        cmd = [sys.executable, "-m", "engine", "serve", "--data", str(data), "--listen",
               f"127.0.0.1:{port}", "--tls-cert", str(pki.path("server")), "--tls-key",
               str(pki.key("server")), *extra]
        with open(tmp_path / f"server-{port}.log", "ab") as log:
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))
        chain = (pki.key("client").read_bytes(), pki.path("client").read_bytes())
        creds = grpc.ssl_channel_credentials(
            pki.ca.cert, *(chain if "--tls-client-ca" in extra else (None, None)))
        wait_healthy(f"127.0.0.1:{port}", 30, procs[-1], credentials=creds)
        return f"https://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(15)


def refused(call: Callable[[], object]) -> str:
    """The message of the EndpointConnectionError ``call`` raises, within FAST seconds."""
    began = time.monotonic()
    with pytest.raises(EndpointConnectionError) as info:
        call()
    assert time.monotonic() - began < FAST
    error = info.value.response["Error"]
    assert error["Code"] in ("UNAVAILABLE", "UNKNOWN"), error
    return str(error["Message"])


def test_the_sdk_trusting_the_ca_works_and_without_it_fails_fast(pki: Pki, tls_server) -> None:
    endpoint = tls_server()
    with client("s3", endpoint=endpoint, verify=str(pki.path("ca"))) as s3:
        s3.create_bucket(Bucket="tls")
        s3.put_object(Bucket="tls", Key="k", Body=b"over TLS")
        assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == b"over TLS"
    with client("sqs", endpoint=endpoint, verify=pki.path("ca")) as sqs:
        url = sqs.create_queue(QueueName="tls")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
        assert [m["Body"] for m in got] == ["hello"]

    # the system roots (no AWS_CA_BUNDLE in tests), or a CA that did not sign the server
    for verify in (None, True, str(pki.path("other-ca"))):
        with client("s3", endpoint=endpoint, verify=verify) as s3:
            message = refused(s3.list_buckets)
        assert f'Could not connect to the endpoint "{endpoint}"' in message
        assert "CERTIFICATE_VERIFY_FAILED" in message


def test_aws_ca_bundle_is_honoured_when_verify_is_not_given(
        pki: Pki, tls_server, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = tls_server()
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.path("ca")))
    with client("s3", endpoint=endpoint) as s3:
        assert s3.list_buckets()["Buckets"] == []
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.root / "missing.pem"))
    with pytest.raises(ValueError, match=r"Could not read the CA bundle '.*missing\.pem': "
                       "No such file"):
        client("s3", endpoint=endpoint)


def test_a_plaintext_client_is_told_the_port_speaks_tls(tls_server) -> None:
    endpoint = tls_server()
    plain = endpoint.removeprefix("https://")
    with client("s3", endpoint=plain) as s3:
        message = refused(s3.list_buckets)
    assert message.endswith("Socket closed (if the server speaks TLS, use an https:// "
                            "endpoint)"), message


def test_verify_false_pins_the_servers_certificate_with_a_warning(tls_server) -> None:
    endpoint = tls_server()
    localhost = endpoint.replace("127.0.0.1", "localhost")  # any name: the pin decides
    for target in (endpoint, localhost):
        with pytest.warns(InsecureTLSWarning, match=r"verify=False: trusting the certificate "
                          r"(127\.0\.0\.1|localhost):\d+ presented now \(CN=server\) "
                          "without checking who issued it"):
            s3 = client("s3", endpoint=target, verify=False)
        with s3:
            assert s3.list_buckets()["Buckets"] == []
    with pytest.raises(ValueError, match=r"verify=False: could not fetch the certificate of "
                       r"127\.0\.0\.1:1 to pin it: \[Errno 111\] Connection refused"):
        client("s3", endpoint="https://127.0.0.1:1", verify=False)


def test_client_certificates_when_the_server_requires_them(pki: Pki, tls_server) -> None:
    endpoint = tls_server("--tls-client-ca", str(pki.path("client-ca")))
    ca = str(pki.path("ca"))
    with client("s3", endpoint=endpoint, verify=ca, client_cert=pki.pair("client")) as s3:
        s3.create_bucket(Bucket="mutual")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mutual"]
    both = pki.root / "client-both.pem"  # botocore's other form: one file, cert and key
    both.write_bytes(pki.path("client").read_bytes() + pki.key("client").read_bytes())
    with client("sqs", endpoint=endpoint, verify=ca, client_cert=str(both)) as sqs:
        assert "QueueUrl" in sqs.create_queue(QueueName="mutual")
    for cert in (None, pki.pair("stranger")):  # none, or one the client CA did not sign
        with client("s3", endpoint=endpoint, verify=ca, client_cert=cert) as s3:
            refused(s3.list_buckets)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, **(env or {})})


def test_the_cli_takes_ca_bundle_or_aws_ca_bundle(pki: Pki, tls_server) -> None:
    endpoint = tls_server()
    ca = str(pki.path("ca"))
    done = cli("status", "--endpoint", endpoint, "--ca-bundle", ca, "--local", "--json")
    assert done.returncode == 0, done.stderr
    assert '"node_id": "node-1"' in done.stdout
    done = cli("s3", "mb", "s3://from-cli", "--endpoint", endpoint, env={"AWS_CA_BUNDLE": ca})
    assert (done.returncode, done.stdout) == (0, "make_bucket: from-cli\n"), done.stderr
    done = cli("admin", "heal", "--endpoint", endpoint, "--ca-bundle", ca, "--json")
    assert done.returncode == 0, done.stderr
    done = cli("status", "--endpoint", endpoint, "--local")
    assert done.returncode == 1
    assert done.stderr.startswith(f'engine: UNAVAILABLE: Could not connect to the endpoint '
                                  f'"{endpoint}"') and "CERTIFICATE_VERIFY_FAILED" in done.stderr
    done = cli("s3", "ls", "--endpoint", endpoint, "--ca-bundle", str(pki.root / "nope.pem"))
    assert done.returncode == 1
    assert "Could not read the CA bundle" in done.stderr and "nope.pem" in done.stderr


def test_serve_refuses_unusable_tls_options_before_starting(pki: Pki, tmp_path: Path) -> None:
    base = ["serve", "--data", str(tmp_path / "d"), "--listen", f"127.0.0.1:{free_port()}"]
    cases = {
        ("--tls-cert", str(pki.path("server"))): "--tls-cert and --tls-key go together",
        ("--tls-cert", str(pki.path("server")), "--tls-key", str(pki.key("client"))):
            f"private key {pki.key('client')} does not match certificate "
            f"{pki.path('server')}",
        ("--tls-client-ca", str(pki.path("ca"))):
            "--tls-client-ca needs --tls-cert and --tls-key",
    }
    for flags, message in cases.items():
        done = cli(*base, *flags)
        assert (done.returncode, done.stderr.strip()) == (2, f"engine serve: {message}")
        assert "PRIVATE KEY" not in done.stderr
