"""Bucket tags, CORS rules and website configuration on the object service (real
drive): stored with the bucket, read back, removed, and S3's NoSuch... codes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.service import ObjectService
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import (
    CorsConfigurationRecord,
    WebsiteConfigurationRecord,
    WebsiteRedirectRecord,
)

CONFIG = StorageConfig(stripe_size=64 * 1024, inline_threshold=1024,
                       max_object_size=4 << 20, lmdb_map_size=1 << 28)
BUCKET = "site"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def svc(tmp_path: Path) -> ObjectService:
    drive = LocalDrive(tmp_path / "d", CONFIG.lmdb_map_size)
    service = ObjectService(StaticPlacement.single(drive), CONFIG, ManualClock())
    run(service.create_bucket(BUCKET))
    yield service
    drive.close()


def code(coro: Awaitable[Any]) -> str:
    with pytest.raises(EngineError) as info:
        run(coro)
    return info.value.code


def test_bucket_tags_keep_their_order_and_are_removed(svc):
    assert code(svc.get_bucket_tagging(BUCKET)) == "NoSuchTagSet"
    tags = [("zeta", "1"), ("alpha", "2 words")]
    run(svc.put_bucket_tagging(BUCKET, tags))
    assert run(svc.get_bucket_tagging(BUCKET)) == tags
    run(svc.put_bucket_tagging(BUCKET, [("one", "")]))
    assert run(svc.get_bucket_tagging(BUCKET)) == [("one", "")]
    run(svc.delete_bucket_tagging(BUCKET))
    run(svc.delete_bucket_tagging(BUCKET))  # idempotent, as S3's 204
    assert code(svc.get_bucket_tagging(BUCKET)) == "NoSuchTagSet"


def test_bucket_tags_have_s3s_limits(svc):
    assert code(svc.put_bucket_tagging(BUCKET, [(f"k{i}", "v") for i in range(51)])) == \
        "BadRequest"
    assert code(svc.put_bucket_tagging(BUCKET, [("a", "1"), ("a", "2")])) == "InvalidTag"
    assert code(svc.put_bucket_tagging(BUCKET, [("aws:cost", "1")])) == "InvalidTag"
    run(svc.put_bucket_tagging(BUCKET, [(f"k{i}", "v") for i in range(50)]))
    assert code(svc.put_bucket_tagging("missing", [("a", "1")])) == "NoSuchBucket"


def test_cors_rules_are_kept_with_the_bucket(svc):
    assert code(svc.get_bucket_cors(BUCKET)) == "NoSuchCORSConfiguration"
    assert run(svc.bucket_cors_for_request(BUCKET)) is None
    config = CorsConfigurationRecord()
    config.rules.add(allowed_methods=["GET"], allowed_origins=["*"], max_age_seconds=0)
    run(svc.put_bucket_cors(BUCKET, config))
    assert run(svc.get_bucket_cors(BUCKET)) == config
    assert run(svc.bucket_cors_for_request(BUCKET)) == config
    assert code(svc.put_bucket_cors(BUCKET, CorsConfigurationRecord())) == "MalformedXML"
    run(svc.delete_bucket_cors(BUCKET))
    assert code(svc.get_bucket_cors(BUCKET)) == "NoSuchCORSConfiguration"
    assert code(svc.bucket_cors_for_request("missing")) == "NoSuchBucket"


def test_website_configuration_is_kept_with_the_bucket(svc):
    assert code(svc.get_bucket_website(BUCKET)) == "NoSuchWebsiteConfiguration"
    site = WebsiteConfigurationRecord(index_suffix="index.html", error_key="404.html")
    run(svc.put_bucket_website(BUCKET, site))
    assert run(svc.get_bucket_website(BUCKET, stale_ok=True)) == site
    moved = WebsiteConfigurationRecord(redirect_all=WebsiteRedirectRecord(host_name="x.org"))
    run(svc.put_bucket_website(BUCKET, moved))
    assert run(svc.get_bucket_website(BUCKET)) == moved
    assert code(svc.put_bucket_website(BUCKET, WebsiteConfigurationRecord())) == "MalformedXML"
    run(svc.delete_bucket_website(BUCKET))
    assert code(svc.get_bucket_website(BUCKET)) == "NoSuchWebsiteConfiguration"


def test_settings_leave_the_rest_of_the_bucket_alone(svc):
    run(svc.put_bucket_versioning(BUCKET, "Enabled"))
    run(svc.put_bucket_tagging(BUCKET, [("a", "1")]))
    run(svc.put_bucket_website(BUCKET, WebsiteConfigurationRecord(index_suffix="i.html")))
    assert run(svc.get_bucket_versioning(BUCKET)) == "Enabled"
    assert run(svc.get_bucket_tagging(BUCKET)) == [("a", "1")]
