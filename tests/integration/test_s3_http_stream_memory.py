"""Memory stays bounded while streaming over the S3 REST endpoint: a 256 MiB PutObject
and GetObject (single requests) keep the node's peak RSS under 200 MiB and its growth
well under the object's size, so a node that buffered the body (in the request reader,
the object writer or the response) fails. Runs bench/s3_stream_memory.py's client, which
holds no more than 1 MiB of the body either; the bench itself runs it at 5 GiB."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from credentials import ROOT_KEY_ID, ROOT_SECRET
from helpers_s3_http import s3_client

MIB = 1024 * 1024
SIZE = 256 * MIB
PEAK_LIMIT = 200 * MIB
GROWTH_LIMIT = 64 * MIB  # a quarter of the object: buffering it whole is far above


def bench_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "s3_stream_memory.py"
    spec = importlib.util.spec_from_file_location("s3_stream_memory", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_256mib_put_and_get_stream_with_bounded_node_memory(server):
    bench = bench_module()
    s3_client(server.http_url).create_bucket(Bucket="stream")
    figures = bench.stream_round_trip(server.http_url, server.pid, SIZE, "stream",
                                      access_key=ROOT_KEY_ID, secret=ROOT_SECRET)
    print(f"\nRSS at start {figures['start_rss'] / MIB:.0f} MiB, peak PUT "
          f"{figures['put_peak'] / MIB:.0f} MiB, GET {figures['get_peak'] / MIB:.0f} MiB, "
          f"VmHWM {figures['hwm'] / MIB:.0f} MiB")
    assert figures["hwm"] < PEAK_LIMIT
    assert max(figures["put_peak"], figures["get_peak"]) - figures["start_rss"] < GROWTH_LIMIT
