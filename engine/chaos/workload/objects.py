"""The object workload: workers doing PUT, GET, DELETE, CopyObject and multipart uploads
on a few contended keys of a versioned and an unversioned bucket, through the gRPC SDK
and boto3 on the S3 HTTP endpoint of every node, each operation recorded in a history
for the register checker (engine/chaos/checkers/register.py).

Recording (what the checker reads): a key is ``"<bucket>/<key>"``; PUT, CopyObject and
CompleteMultipartUpload are ``write`` of the body's value (engine/chaos/workload/
bodies.py), DELETE is ``delete``, GET is ``read`` returning the value its body names
(None for NoSuchKey) with ``checksum_ok``. Each operation carries ``op`` (which S3 call),
``node`` and ``api``. An invocation is recorded before the first byte is sent; after an
``info`` completion the worker continues as a new process (the old request may still be
in flight), as in Jepsen. :meth:`ObjectWorkload.final_reads` reads every key once more,
``final``, after the faults healed.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from engine.chaos.history import Event, HistoryWriter, Outcome
from engine.chaos.workload.bodies import Body, decode, make_body
from engine.chaos.workload.copy_sources import CopySources, Seen
from engine.chaos.workload.object_plan import (
    DEFAULT_MIX,
    Bucket,
    Kind,
    Step,
    key_names,
    steps,
)
from engine.chaos.workload.outcomes import classify, client_errors, is_code, not_sent
from engine.chaos.workload.s3_clients import ObjectEndpoint, S3Clients
from engine.client import Verify
from engine.clock import Clock, SystemClock

KIB = 1024
MIB = 1024 * KIB
PART = 5 * MIB  # S3's smallest part but the last: a two-part upload's first part
Result = tuple[Any, dict[str, Any]]  # the completion's value and extra fields


@dataclass(frozen=True)
class ObjectWorkloadConfig:
    """One run. Bounded by ``duration_s`` (on the clock given), by ``ops_per_worker``,
    or by both; ``run`` names the buckets and prefixes every value (default ``s<seed>``).
    ``sizes``: payload sizes drawn per write (above 128 KiB a body leaves the inline
    record for shard files)."""

    endpoints: Sequence[ObjectEndpoint]
    seed: int = 0
    workers: int = 4
    duration_s: float | None = 10.0
    ops_per_worker: int | None = None
    keys_per_bucket: int = 3
    run: str = ""
    mix: Mapping[Kind, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    sizes: Sequence[int] = (100, 3 * KIB, 200 * KIB)
    two_part_share: float = 0.1
    timeout_s: float = 10.0
    refused_pause_s: float = 0.1  # after a refused connection: no hot loop on a dead node
    verify: Verify = None

    @property
    def run_name(self) -> str:
        return self.run or f"s{self.seed}"

    @property
    def buckets(self) -> dict[Bucket, str]:
        """Role ("versioned" / "unversioned") -> bucket name."""
        return {"versioned": f"chaos-{self.run_name}-ver", "unversioned":
                f"chaos-{self.run_name}-unver"}


class ObjectWorkload:
    """Drives one run; ``setup``, then ``run``, then (after the faults healed)
    ``final_reads``. ``counts`` tallies (op, outcome)."""

    def __init__(self, config: ObjectWorkloadConfig, history: HistoryWriter,
                 clock: Clock | None = None) -> None:
        if config.duration_s is None and config.ops_per_worker is None:
            raise ValueError("bound the run: duration_s, ops_per_worker or both")
        self.config = config
        self._history = history
        self._clock = clock or SystemClock()
        self._clients = S3Clients(config.endpoints, timeout=config.timeout_s,
                                  verify=config.verify, pool=config.workers + 2)
        self._sources = CopySources()
        self._errors = client_errors()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()
        self._local = threading.local()  # .refused: this worker's last call never connected

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        with self._counts_lock:
            return dict(self._counts)

    @property
    def history_keys(self) -> list[str]:
        return [f"{b}/{k}" for b in self.config.buckets.values()
                for k in key_names(self.config.keys_per_bucket)]

    def setup(self) -> None:
        """Creates both buckets (again is fine) and turns versioning on in one."""
        first = self.config.endpoints[0]
        s3 = self._clients.get(first.node, "grpc")
        for name in self.config.buckets.values():
            try:
                s3.create_bucket(Bucket=name)
            except self._errors as e:
                if not is_code(e, "BucketAlreadyOwnedByYou"):
                    raise
        s3.put_bucket_versioning(Bucket=self.config.buckets["versioned"],
                                 VersioningConfiguration={"Status": "Enabled"})

    def run(self, stop: threading.Event | None = None) -> None:
        """Runs the workers until the bound (or ``stop``); re-raises a worker's crash."""
        stop = stop or threading.Event()
        deadline = (None if self.config.duration_s is None
                    else self._clock.monotonic() + self.config.duration_s)
        crashes: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                self._worker(worker, stop, deadline)
            except BaseException as e:  # a harness bug: stop everyone, report it
                crashes.append(e)
                stop.set()

        threads = [threading.Thread(target=work, args=(w,), name=f"chaos-objects-{w}")
                   for w in range(self.config.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if crashes:
            raise crashes[0]

    def final_reads(self, attempts: int = 5) -> dict[str, Outcome]:
        """Reads every key, ``final``, until one read of it is ``ok`` (at most
        ``attempts`` tries, rotating over the endpoints); key -> last outcome."""
        outcomes: dict[str, Outcome] = {}
        endpoints = self.config.endpoints
        process = 0
        turn = 0
        for role, bucket in self.config.buckets.items():
            for key in key_names(self.config.keys_per_bucket):
                for _ in range(attempts):
                    e = endpoints[turn % len(endpoints)]
                    api = e.apis[turn // len(endpoints) % len(e.apis)]
                    turn += 1
                    step = Step("get", role, key, e.node, api, 0, key, 0.0, 1)
                    outcome = self._get(f"final-{process}", bucket, step, final=True)
                    outcomes[f"{bucket}/{key}"] = outcome
                    if outcome == "info":
                        process += 1
                    if outcome == "ok":
                        break
        return outcomes

    def close(self) -> None:
        self._clients.close()

    # -- one worker --------------------------------------------------------------------

    def _worker(self, worker: int, stop: threading.Event, deadline: float | None) -> None:
        c = self.config
        plan = steps(c.seed, worker, c.endpoints, c.mix, c.keys_per_bucket, c.sizes,
                     c.two_part_share)
        if c.ops_per_worker is not None:
            plan = islice(plan, c.ops_per_worker)
        process = worker
        for seq, step in enumerate(plan):
            if stop.is_set() or (deadline is not None and self._clock.monotonic() >= deadline):
                return
            self._local.refused = False
            bucket = c.buckets[step.bucket]
            if step.kind == "get":
                outcome = self._get(process, bucket, step)
            elif step.kind == "delete":
                outcome = self._delete(process, bucket, step)
            else:
                two_parts = step.kind == "multipart" and step.parts == 2
                body = make_body(c.run_name, worker, seq,
                                 PART + step.size if two_parts else step.size)
                outcome = self._write(process, bucket, step, body)
            if outcome == "info":
                process += c.workers
            if self._local.refused:
                stop.wait(c.refused_pause_s)

    def _get(self, process: int | str, bucket: str, step: Step, final: bool = False
             ) -> Outcome:
        s3 = self._clients.get(step.node, step.api)

        def call() -> Result:
            try:
                resp = s3.get_object(Bucket=bucket, Key=step.key)
            except self._errors as e:
                if is_code(e, "NoSuchKey"):
                    return None, {}
                raise
            data = resp["Body"].read()
            decoded = decode(data)
            if decoded.intact:
                self._sources.saw(bucket, step.key, Seen(decoded.value, resp["ETag"],
                                                         resp.get("VersionId")))
            return decoded.value, {"checksum_ok": decoded.intact, "size": len(data)}

        extra = {"final": True} if final else {}
        return self._record(process, "read", bucket, step, None, call, **extra)

    def _delete(self, process: int, bucket: str, step: Step) -> Outcome:
        s3 = self._clients.get(step.node, step.api)

        def call() -> Result:
            resp = s3.delete_object(Bucket=bucket, Key=step.key)
            return None, _version(resp)

        return self._record(process, "delete", bucket, step, None, call)

    def _write(self, process: int, bucket: str, step: Step, body: Body) -> Outcome:
        s3 = self._clients.get(step.node, step.api)
        if step.kind == "copy":
            copy = self._copy_source(bucket, step)
            if copy is not None:
                source, seen = copy

                def call_copy() -> Result:
                    resp = s3.copy_object(Bucket=bucket, Key=step.key, **source)
                    return self._acked(bucket, step.key, seen.value,
                                       resp["CopyObjectResult"]["ETag"], resp)

                return self._record(process, "write", bucket, step, seen.value, call_copy,
                                    source=step.source, source_etag=seen.etag,
                                    source_version=seen.version_id)
            step = replace(step, kind="put")  # nothing known to copy: a PUT instead
        if step.kind == "multipart":
            return self._multipart(process, bucket, step, body)

        def call_put() -> Result:
            resp = s3.put_object(Bucket=bucket, Key=step.key, Body=body.data)
            return self._acked(bucket, step.key, body.value, resp["ETag"], resp)

        return self._record(process, "write", bucket, step, body.value, call_put,
                            size=len(body.data))

    def _copy_source(self, bucket: str, step: Step) -> tuple[dict[str, Any], Seen] | None:
        """CopyObject arguments naming a body whose value is known, and that body."""
        if step.bucket == "versioned":
            seen = self._sources.version(bucket, step.source, step.pick)
            if seen is None:
                return None
            return {"CopySource": {"Bucket": bucket, "Key": step.source,
                                   "VersionId": seen.version_id}}, seen
        seen = self._sources.latest(bucket, step.source)
        if seen is None:
            return None
        return {"CopySource": {"Bucket": bucket, "Key": step.source},
                "CopySourceIfMatch": seen.etag}, seen

    def _multipart(self, process: int, bucket: str, step: Step, body: Body) -> Outcome:
        """Create, upload, complete: the write can only take effect at the completion,
        so a failure before it is a ``fail`` whatever its kind."""
        s3 = self._clients.get(step.node, step.api)
        data = body.data
        chunks = [data[:PART], data[PART:]] if step.parts == 2 else [data]
        invocation = self._invoke(process, "write", bucket, step, body.value,
                                  size=len(data), parts=len(chunks))
        try:
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=step.key)["UploadId"]
        except self._errors as e:
            return self._complete(invocation, step, "fail", None, {"error": self._classify(e)[1],
                                                                   "stage": "create"})
        try:
            parts = [{"PartNumber": n, "ETag": s3.upload_part(
                Bucket=bucket, Key=step.key, UploadId=upload_id, PartNumber=n,
                Body=chunk)["ETag"]} for n, chunk in enumerate(chunks, 1)]
        except self._errors as e:
            self._abort(s3, bucket, step.key, upload_id)
            return self._complete(invocation, step, "fail", None, {"error": self._classify(e)[1],
                                                                   "stage": "upload"})
        try:
            resp = s3.complete_multipart_upload(Bucket=bucket, Key=step.key,
                                                UploadId=upload_id,
                                                MultipartUpload={"Parts": parts})
        except self._errors as e:
            outcome, code = self._classify(e)
            return self._complete(invocation, step, outcome, None, {"error": code,
                                                                    "stage": "complete"})
        value, extra = self._acked(bucket, step.key, body.value, resp["ETag"], resp)
        return self._complete(invocation, step, "ok", value, extra)

    def _abort(self, s3: Any, bucket: str, key: str, upload_id: str) -> None:
        # The upload is garbage either way; nothing of the register depends on it.
        with contextlib.suppress(*self._errors):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    def _acked(self, bucket: str, key: str, value: str, etag: str,
               resp: Mapping[str, Any]) -> Result:
        extra = _version(resp)
        self._sources.saw(bucket, key, Seen(value, etag, extra.get("version_id")))
        return None, {"etag": etag, **extra}

    # -- recording ---------------------------------------------------------------------

    def _classify(self, exc: BaseException) -> tuple[Outcome, str]:
        if not_sent(exc):
            self._local.refused = True
        return classify(exc)

    def _record(self, process: int | str, f: str, bucket: str, step: Step, value: Any,
                call: Callable[[], Result], **extra: Any) -> Outcome:
        invocation = self._invoke(process, f, bucket, step, value, **extra)
        try:
            result, more = call()
        except self._errors as e:
            outcome, code = self._classify(e)
            return self._complete(invocation, step, outcome, None, {"error": code})
        return self._complete(invocation, step, "ok", result, more)

    def _invoke(self, process: int | str, f: str, bucket: str, step: Step, value: Any,
                **extra: Any) -> Event:
        return self._history.invoke(process, f, f"{bucket}/{step.key}", value, op=step.kind,
                                    node=step.node, api=step.api, **extra)

    def _complete(self, invocation: Event, step: Step, outcome: Outcome, value: Any,
                  extra: Mapping[str, Any]) -> Outcome:
        self._history.complete(invocation, outcome, value, **extra)
        with self._counts_lock:
            self._counts[(step.kind, outcome)] += 1
        return outcome


def _version(resp: Mapping[str, Any]) -> dict[str, Any]:
    version = resp.get("VersionId")
    return {"version_id": version} if version else {}
