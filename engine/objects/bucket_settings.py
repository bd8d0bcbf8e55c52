"""Bucket settings only the S3 REST API sets: bucket tags, CORS rules and static website
hosting.

They live in the bucket record beside versioning and lifecycle and change through
``Buckets.update``, so a cluster replicates them the same way and every node serves the
same CORS answers and the same site. What a configuration may contain (S3's schema and
limits) is checked where its document is read; these operations keep it, and say S3's
``NoSuch...`` when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import EngineError
from engine.objects.core import ObjectCore
from engine.objects.tagging import check_bucket_tags
from engine.v1.records_pb2 import (
    BucketRecord,
    BucketTag,
    CorsConfigurationRecord,
    WebsiteConfigurationRecord,
)


class BucketSettingsOps(ObjectCore):
    # -- bucket tags -------------------------------------------------------------------

    async def put_bucket_tagging(self, bucket: str, tags: Iterable[tuple[str, str]]) -> None:
        """Replace the bucket's tag set (S3's limits: 50 tags, object tag rules each); an
        empty set removes it, as DeleteBucketTagging does."""
        record = await self.buckets.get(bucket)
        checked = [BucketTag(key=k, value=v) for k, v in check_bucket_tags(tags).items()]

        def change(r: BucketRecord) -> None:
            del r.tags[:]
            r.tags.extend(checked)

        await self._update_bucket(record, change)

    async def get_bucket_tagging(self, bucket: str) -> list[tuple[str, str]]:
        record = await self.buckets.get(bucket)
        if not record.tags:
            raise EngineError("NoSuchTagSet", BucketName=bucket)
        return [(t.key, t.value) for t in record.tags]

    async def delete_bucket_tagging(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.tags:
            await self._update_bucket(record, lambda r: r.ClearField("tags"))

    # -- CORS ----------------------------------------------------------------------------

    async def put_bucket_cors(self, bucket: str, config: CorsConfigurationRecord) -> None:
        record = await self.buckets.get(bucket)
        if not config.rules:
            raise EngineError("MalformedXML")
        await self._update_bucket(record, lambda r: r.cors.CopyFrom(config))

    async def get_bucket_cors(self, bucket: str) -> CorsConfigurationRecord:
        record = await self.buckets.get(bucket)
        if not record.cors.rules:
            raise EngineError("NoSuchCORSConfiguration", BucketName=bucket)
        return record.cors

    async def delete_bucket_cors(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.cors.rules:
            await self._update_bucket(record, lambda r: r.ClearField("cors"))

    async def bucket_cors_for_request(self, bucket: str) -> CorsConfigurationRecord | None:
        """The rules a cross-origin request is answered from (None: no configuration),
        from the copy the data path reads; NoSuchBucket when there is no bucket."""
        record = await self.buckets.get(bucket, stale_ok=True)
        return record.cors if record.cors.rules else None

    # -- static website ------------------------------------------------------------------

    async def put_bucket_website(self, bucket: str, config: WebsiteConfigurationRecord
                                 ) -> None:
        record = await self.buckets.get(bucket)
        if not config.index_suffix and not config.HasField("redirect_all"):
            raise EngineError("MalformedXML")
        await self._update_bucket(record, lambda r: r.website.CopyFrom(config))

    async def get_bucket_website(self, bucket: str, *, stale_ok: bool = False
                                 ) -> WebsiteConfigurationRecord:
        """NoSuchWebsiteConfiguration when none is set. ``stale_ok``: for serving the
        site, which may lag a change by the replication delay, as S3's does."""
        record = await self.buckets.get(bucket, stale_ok=stale_ok)
        if not record.HasField("website"):
            raise EngineError("NoSuchWebsiteConfiguration", BucketName=bucket)
        return record.website

    async def delete_bucket_website(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.HasField("website"):
            await self._update_bucket(record, lambda r: r.ClearField("website"))
