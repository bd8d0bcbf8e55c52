"""Bucket and object subresources: versioning and lifecycle configuration, object
tags, archive restores, and the in-place changes lifecycle rules make (transitions,
expirations). Each change to a version is a VersionPatch applied by every drive
atomically, guarded by the version's fingerprint where a racing write must win.
"""

from __future__ import annotations

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects import lifecycle, restore
from engine.objects.body_reader import BodyReader
from engine.objects.core import ObjectCore
from engine.objects.names import check_storage_class
from engine.objects.notifications.emitter import Change
from engine.objects.notifications.records import event_time
from engine.objects.tagging import check_tags
from engine.storage.entries import fingerprint, latest
from engine.v1.lifecycle_pb2 import LifecycleConfiguration
from engine.v1.records_pb2 import (
    BucketRecord,
    EventRecord,
    ObjectVersion,
    RestoreState,
    VersionPatch,
)

VERSIONING_STATES = ("Enabled", "Suspended")


class SubresourceOps(ObjectCore):
    # -- bucket versioning -------------------------------------------------------------

    async def put_bucket_versioning(self, bucket: str, status: str, mfa_delete: str = "") -> None:
        """Enabled or Suspended; a bucket never goes back to unversioned."""
        record = await self.buckets.get(bucket)
        if status not in VERSIONING_STATES:
            raise EngineError("MalformedXML", "Versioning Status must be Enabled or Suspended")
        if mfa_delete not in ("", "Disabled"):
            raise EngineError("NotImplemented", "MFA Delete is not supported", Header="MfaDelete")
        if record.versioning != status:
            await self._update_bucket(record, lambda r: setattr(r, "versioning", status))

    async def get_bucket_versioning(self, bucket: str) -> str:
        return (await self.buckets.get(bucket)).versioning

    # -- bucket lifecycle --------------------------------------------------------------

    async def put_bucket_lifecycle(self, bucket: str, config: LifecycleConfiguration) -> None:
        record = await self.buckets.get(bucket)
        lifecycle.validate(config)
        await self._update_bucket(record, lambda r: r.lifecycle.CopyFrom(config))

    async def get_bucket_lifecycle(self, bucket: str) -> LifecycleConfiguration:
        record = await self.buckets.get(bucket)
        if not record.lifecycle.rules:
            raise EngineError("NoSuchLifecycleConfiguration", BucketName=bucket)
        return record.lifecycle

    async def delete_bucket_lifecycle(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.lifecycle.rules:
            await self._update_bucket(record, lambda r: r.ClearField("lifecycle"))

    # -- object tagging ----------------------------------------------------------------

    async def put_object_tagging(self, bucket: str, key: str, tags: dict[str, str], *,
                                 version_id: str = "") -> str:
        checked = check_tags(tags.items())
        version = await self._version(bucket, key, version_id)
        events = self._events(await self.buckets.get(bucket, stale_ok=True),
                              Change("ObjectTagging:Put", key, version,
                                     sequencer_ns=self.clock.now_ns()))
        await self._patch(bucket, key, VersionPatch(version_id=version.version_id,
                                                    set_tags=True, tags=checked),
                          events=events)
        return version.version_id

    async def get_object_tagging(self, bucket: str, key: str, *, version_id: str = ""
                                 ) -> tuple[str, dict[str, str]]:
        version = await self._version(bucket, key, version_id)
        return version.version_id, dict(version.tags)

    async def delete_object_tagging(self, bucket: str, key: str, *, version_id: str = "") -> str:
        version = await self._version(bucket, key, version_id)
        if version.tags:
            events = self._events(await self.buckets.get(bucket, stale_ok=True),
                                  Change("ObjectTagging:Delete", key, version,
                                         sequencer_ns=self.clock.now_ns()))
            await self._patch(bucket, key, VersionPatch(version_id=version.version_id,
                                                        set_tags=True), events=events)
        return version.version_id

    # -- archive restore ---------------------------------------------------------------

    async def restore_object(self, bucket: str, key: str, *, version_id: str = "",
                             days: int | None = None, tier: str = "") -> bool:
        """True when the version was already restored (its expiry is extended: S3's 200);
        False when a restore started (202)."""
        version = await self._version(bucket, key, version_id)
        state, already = restore.plan(version, days, tier, self.clock.now_ns(), self.day_ns)
        patch = VersionPatch(version_id=version.version_id, expect=fingerprint(version))
        patch.restore.CopyFrom(state)
        record = await self.buckets.get(bucket, stale_ok=True)
        await self._patch(bucket, key, patch, events=self._restore_events(
            record, key, version, state, already))
        return already

    def _restore_events(self, record: BucketRecord, key: str, version: ObjectVersion,
                        state: RestoreState, already: bool) -> list[EventRecord]:
        """Post now (a restore started), Completed when the copy is ready, Delete when
        it expires (void if a later restore moves the expiry), as S3 sends them."""
        now = self.clock.now_ns()
        expiry = {"lifecycleRestorationExpiryTime": event_time(state.expiry_ns),
                  "lifecycleRestoreStorageClass": version.storage_class or "GLACIER"}
        changes = [] if already else [
            Change("ObjectRestore:Post", key, version, sequencer_ns=now),
            Change("ObjectRestore:Completed", key, version, sequencer_ns=state.ready_ns,
                   due_ns=state.ready_ns,
                   extra={"glacierEventData": {"restoreEventData": expiry}}),
        ]
        changes.append(Change("ObjectRestore:Delete", key, version,
                              sequencer_ns=state.expiry_ns, due_ns=state.expiry_ns,
                              restore_expiry_ns=state.expiry_ns))
        return [e for change in changes for e in self._events(record, change)]

    # -- what lifecycle rules do -------------------------------------------------------

    async def transition_version(self, bucket: str, key: str, version: ObjectVersion,
                                 storage_class: str) -> bool:
        """Re-encode one version into another class in place (same id, ETag, tags).

        The new data is written first; the switch is a patch that expects the version
        unchanged, so a PUT or another transition that won the race keeps its data and
        ours is discarded. The old shards become garbage on each drive at the switch.
        """
        storage_class = check_storage_class(storage_class)
        eset = self.placement.set_for(bucket, key)
        try:
            reader = await BodyReader(version, eset, 0, version.size - 1).open()
            body = reader.stream()
            try:
                writer, written = await self._write_body(eset, bucket, key, body,
                                                         version.size, storage_class)
            finally:
                await body.aclose()  # type: ignore[attr-defined]
                await reader.close()
        except EngineError:
            if not await self._still_there(eset, bucket, key, version):
                return False  # overwritten or deleted while we read it: nothing to do
            raise
        replacement = ObjectVersion(storage_class=storage_class)
        if written.inline is not None:
            replacement.inline_data = written.inline
        else:
            assert written.layout is not None
            replacement.layout.CopyFrom(written.layout)
        patch = VersionPatch(version_id=version.version_id, expect=fingerprint(version))
        patch.body.CopyFrom(replacement)
        events = self._events(await self.buckets.get(bucket, stale_ok=True), Change(
            "LifecycleTransition", key, version, sequencer_ns=self.clock.now_ns(),
            extra={"lifecycleEventData": {"transitionEventData": {
                "destinationStorageClass": storage_class}}}))
        try:
            await self._patch(bucket, key, patch, self._metadata_drives(eset, written),
                              events)
        except EngineError as exc:
            await writer.discard()
            if exc.code in ("NoSuchVersion", "ConditionalRequestConflict"):
                return False
            raise
        return True

    async def _still_there(self, eset: ErasureSet, bucket: str, key: str,
                           version: ObjectVersion) -> bool:
        entry = await self._entry(eset, bucket, key)
        mark = fingerprint(version)
        return entry is not None and any(fingerprint(v) == mark for v in entry.versions)

    async def remove_version(self, bucket: str, key: str, version: ObjectVersion) -> bool:
        """Permanently delete `version` if it is still exactly what the caller saw
        (lifecycle's expirations)."""
        events = self._events(await self.buckets.get(bucket, stale_ok=True), Change(
            "LifecycleExpiration:Delete", key, version, sequencer_ns=self.clock.now_ns()))
        try:
            await self._patch(bucket, key, VersionPatch(
                version_id=version.version_id, remove=True, expect=fingerprint(version)),
                events=events)
        except EngineError as exc:
            if exc.code in ("NoSuchVersion", "ConditionalRequestConflict"):
                return False
            raise
        return True

    async def expire_current(self, bucket: str, key: str, version: ObjectVersion) -> bool:
        """Expire the current version: a delete marker in a versioned bucket, removal in
        an unversioned one, in both cases only while `version` is still current."""
        record = await self.buckets.get(bucket)
        if not record.versioning:
            return await self.remove_version(bucket, key, version)
        eset = self.placement.set_for(bucket, key)
        current = latest(await self._entry(eset, bucket, key))
        if current is None or fingerprint(current) != fingerprint(version):
            return False
        marker = ObjectVersion(version_id=self.new_version_id(record.versioning),
                               delete_marker=True, mtime_ns=self.clock.now_ns())
        await self._commit(eset, bucket, key, marker, record.versioning, events=self._events(
            record, Change("LifecycleExpiration:DeleteMarkerCreated", key, marker)))
        return True
