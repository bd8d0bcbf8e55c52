"""SIGTERM stops a node cleanly, its data survives a restart, and the standard gRPC health
and reflection services answer."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers_objects import (
    INLINE_THRESHOLD,
    MIB,
    channel,
    get_bytes,
    list_keys,
    object_stub,
    put_bytes,
    put_requests,
    read_metadata,
    referenced_data_ids,
    shard_data_ids,
    split,
    tmp_files,
)

from engine.v1 import objects_pb2 as pb

BUCKET = "shutdown"
GRACE_SECONDS = 5  # engine serve's default --shutdown-grace: an idle node stops within it
# The nodes stopped with calls in flight give them this long (--shutdown-grace), so the
# tests wait for a short grace rather than the default one; the behaviour is the same.
IN_FLIGHT_GRACE = 1.0
BODIES = {
    "empty": b"",
    "inline": b"inline body " * 100,
    "threshold": bytes(range(256)) * (INLINE_THRESHOLD // 256),
    "stripes/two-and-a-bit": bytes(reversed(range(256))) * (2 * MIB // 256) + b"tail",
}


def sigterm(server, within: float) -> tuple[int, float]:
    """Send SIGTERM and wait for the exit: (exit code, seconds taken)."""
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        rc = server.proc.wait(within)
    except Exception:
        server.proc.kill()
        server.proc.wait(5)
        raise AssertionError(f"the server did not exit within {within}s of SIGTERM") from None
    return rc, time.monotonic() - t0


def log_text(server) -> str:
    return (server.data_dir.parent / f"server-{server.port}.log").read_text()


def assert_no_garbage(data_dir) -> None:
    assert tmp_files(data_dir) == []
    entries, intents = read_metadata(data_dir)
    assert intents == {}
    assert shard_data_ids(data_dir) == referenced_data_ids(entries)


def test_sigterm_exits_cleanly_and_data_survives_restart(server_factory):
    server = server_factory().start()
    data_dir = server.data_dir
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)
        etags = {k: put_bytes(stub, BUCKET, k, v).etag for k, v in BODIES.items()}

    rc, seconds = sigterm(server, within=GRACE_SECONDS)
    assert rc == 0, f"exit code {rc} after SIGTERM"
    print(f"idle server stopped in {seconds:.2f}s")
    log = log_text(server)
    assert "stopped" in log, log
    assert "Traceback" not in log, log

    server = server_factory(data_dir=data_dir).start()
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        assert [b.name for b in stub.ListBuckets(pb.ListBucketsRequest(), timeout=10).buckets] \
            == [BUCKET]
        assert list_keys(stub, BUCKET) == (sorted(BODIES), [])
        for key, data in BODIES.items():
            header, got = get_bytes(stub, BUCKET, key)
            assert got == data, key
            assert header.info.etag == etags[key], key
    assert_no_garbage(data_dir)
    rc, _ = sigterm(server, within=GRACE_SECONDS)
    assert rc == 0
    assert "stopped" in log_text(server)


BIG = BODIES["stripes/two-and-a-bit"]


def sigterm_with_calls_in_flight(server) -> tuple[int, float, object]:
    """Store BIG, then SIGTERM while an overwrite of it is half sent (its stream held
    open) and a download of it is open: (exit code, seconds to exit, the PUT's outcome)."""
    held = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def held_body() -> Iterator[bytes]:
        pieces = list(split(b"N" * (3 * MIB)))
        yield from pieces[: len(pieces) // 2]
        held.set()
        release.wait(30)
        yield from pieces[len(pieces) // 2 :]

    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)
        put_bytes(stub, BUCKET, "big", BIG)

        def upload() -> None:
            try:
                outcome["put"] = stub.PutObject(
                    put_requests(BUCKET, "big", held_body(), 3 * MIB), timeout=60)
            except grpc.RpcError as exc:
                outcome["put"] = exc

        uploader = threading.Thread(target=upload)
        uploader.start()
        assert held.wait(20), "the upload never started"
        # the upload is now holding a partial shard file under tmp/
        stream = stub.GetObject(pb.GetObjectRequest(bucket=BUCKET, key="big"), timeout=60)
        assert next(stream).header.content_length == len(BIG)  # a download is open too
        try:
            rc, seconds = sigterm(server, within=IN_FLIGHT_GRACE + 10)
        finally:
            release.set()
            uploader.join(30)
        received = bytearray()
        try:
            for message in stream:
                received += message.chunk
        except grpc.RpcError:
            pass  # cut off by the end of the grace period: an error, not a short body
        else:
            assert bytes(received) == BIG, "a download ended early without an error"
    return rc, seconds, outcome["put"]


@pytest.mark.slow
def test_sigterm_during_uploads_and_downloads_exits_cleanly(server_factory):
    """In-flight calls get the grace period; an upload cut off by shutdown is never
    acknowledged nor visible, and the server still exits 0."""
    server = server_factory("--shutdown-grace", str(IN_FLIGHT_GRACE)).start()
    data_dir = server.data_dir
    rc, seconds, put = sigterm_with_calls_in_flight(server)
    assert rc == 0, \
        f"exit code {rc} after SIGTERM with calls in flight:\n{log_text(server)[-6000:]}"
    assert seconds < IN_FLIGHT_GRACE + 5, f"took {seconds:.1f}s to stop"
    print(f"busy server stopped in {seconds:.2f}s")
    assert isinstance(put, grpc.RpcError), "a cut-off upload was acknowledged"
    log = log_text(server)
    assert "stopped" in log, log

    server = server_factory(data_dir=data_dir).start()
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        assert get_bytes(stub, BUCKET, "big")[1] == BIG, "the old object must be intact"
    assert_no_garbage(data_dir)
    assert server.stop() == 0


@pytest.mark.slow
def test_clean_stop_undoes_cut_off_uploads_before_closing_storage(server_factory):
    """A clean stop is clean on disk: an upload the shutdown cut off is undone (temp file
    and intent) before the drive closes, not left for crash recovery at the next start.
    Checked on the stopped node's files, before any restart."""
    server = server_factory("--shutdown-grace", str(IN_FLIGHT_GRACE)).start()
    rc, _, _ = sigterm_with_calls_in_flight(server)
    assert rc == 0, f"exit code {rc}:\n{log_text(server)[-6000:]}"
    log = log_text(server)
    assert log.rstrip().endswith("stopped"), \
        f"the node did work after closing its storage:\n{log}"
    assert tmp_files(server.data_dir) == []
    entries, intents = read_metadata(server.data_dir)
    assert intents == {}, f"pending write intents left by a clean stop: {intents}"
    assert shard_data_ids(server.data_dir) == referenced_data_ids(entries)


def test_health_and_reflection(server):
    with channel(server.endpoint) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "engine.v1.ObjectStore"):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as info:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND

        reflection = reflection_pb2_grpc.ServerReflectionStub(ch)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="engine.v1.ObjectStore"),
        ]
        listed, described = list(reflection.ServerReflectionInfo(iter(requests), timeout=10))
        names = {s.name for s in listed.list_services_response.service}
        assert "engine.v1.ObjectStore" in names, names
        assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
        files = described.file_descriptor_response.file_descriptor_proto
        assert files, "reflection returned no descriptor for engine.v1.ObjectStore"

        from google.protobuf import descriptor_pb2

        protos = [descriptor_pb2.FileDescriptorProto.FromString(f) for f in files]
        services = {s.name: s for p in protos if p.package == "engine.v1" for s in p.service}
        methods = {m.name: m for m in services["ObjectStore"].method}
        assert methods["PutObject"].client_streaming
        assert methods["GetObject"].server_streaming
        assert {"CreateBucket", "ListObjectsV2", "DeleteObject"} <= set(methods)
