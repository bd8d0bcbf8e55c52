"""S3 semantics across a real 6-node, 3-AZ cluster with a fast lifecycle clock.

One cluster (every node `engine serve --cluster ... --day-seconds 0.05`, so a lifecycle
day lasts 50 ms) serves the whole module. Each operation goes through a different node
than the one before it, so the state it depends on must have crossed the cluster.
The AZ-loss test runs last: it kills and restarts a zone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import MIB, Cluster, body_for, error_code, md5_hex, read_md5, running, wait_until

DAY_SECONDS = 0.05


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("s3"), extra_args=("--day-seconds", str(DAY_SECONDS)))
    with running(c):
        yield c


def nodes(c: Cluster) -> list[Any]:
    return [c.client(n) for n in c.node_ids]


def stored_bytes(c: Cluster) -> int:
    return sum(f.stat().st_size for files in c.shard_files().values() for f in files)


def shard_count(c: Cluster) -> int:
    return sum(c.shard_counts().values())


def raises(code: str, call: Any, **kw: Any) -> BaseException:
    with pytest.raises(Exception) as info:
        call(**kw)
    assert error_code(info.value) == code, info.value
    return info.value


def test_multipart_across_nodes_is_atomic_and_leaves_no_orphans(fast: Cluster) -> None:
    s = nodes(fast)
    s[0].create_bucket(Bucket="mpu")
    s[1].put_object(Bucket="mpu", Key="obj", Body=b"the old object")
    before = shard_count(fast)
    uid = s[2].create_multipart_upload(Bucket="mpu", Key="obj", Metadata={"m": "1"})["UploadId"]
    bodies = [body_for("p1", 5 * MIB), body_for("p2", 5 * MIB), body_for("p3", MIB + 7)]
    etags = [s[3 + i].upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=i + 1,
                                  Body=b)["ETag"] for i, b in enumerate(bodies)]
    s[0].upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=9, Body=b"x" * 300_000)
    listed = s[1].list_parts(Bucket="mpu", Key="obj", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3, 9]
    assert s[2].get_object(Bucket="mpu", Key="obj")["Body"].read() == b"the old object"
    done = s[5].complete_multipart_upload(
        Bucket="mpu", Key="obj", UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": i + 1}
                                   for i, e in enumerate(etags)]})
    md5s = b"".join(hashlib.md5(b).digest() for b in bodies)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    whole = b"".join(bodies)
    assert read_md5(s[4], "mpu", "obj") == (md5_hex(whole), len(whole))
    part2 = s[3].get_object(Bucket="mpu", Key="obj", PartNumber=2)
    assert part2["PartsCount"] == 3 and part2["Body"].read() == bodies[1]
    raises("NoSuchUpload", s[1].list_parts, Bucket="mpu", Key="obj", UploadId=uid)
    # 3 parts x 6 shards; part 9 (not completed) and the inline old object left nothing.
    assert shard_count(fast) == before + 3 * 6
    aborted = s[0].create_multipart_upload(Bucket="mpu", Key="gone")["UploadId"]
    for n in (1, 2):
        s[n].upload_part(Bucket="mpu", Key="gone", UploadId=aborted, PartNumber=n,
                         Body=body_for(f"g{n}", MIB))
    assert shard_count(fast) == before + 5 * 6
    s[3].abort_multipart_upload(Bucket="mpu", Key="gone", UploadId=aborted)
    assert shard_count(fast) == before + 3 * 6
    raises("NoSuchUpload", s[4].upload_part, Bucket="mpu", Key="gone", UploadId=aborted,
           PartNumber=3, Body=b"late")
    assert s[5].list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []


def test_versioning_across_nodes(fast: Cluster) -> None:
    s = nodes(fast)
    s[0].create_bucket(Bucket="vers")
    s[1].put_bucket_versioning(Bucket="vers", VersioningConfiguration={"Status": "Enabled"})
    wait_until(lambda: all(c.get_bucket_versioning(Bucket="vers").get("Status") == "Enabled"
                           for c in s), 10, "versioning visible on every node")
    v1 = s[2].put_object(Bucket="vers", Key="k", Body=b"first")["VersionId"]
    v2 = s[3].put_object(Bucket="vers", Key="k", Body=body_for("v2", 2 * MIB))["VersionId"]
    marker = s[4].delete_object(Bucket="vers", Key="k")
    assert marker["DeleteMarker"] is True
    raises("NoSuchKey", s[5].get_object, Bucket="vers", Key="k")
    assert s[0].get_object(Bucket="vers", Key="k", VersionId=v1)["Body"].read() == b"first"
    listing = s[1].list_object_versions(Bucket="vers")
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [
        (v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [
        (marker["VersionId"], True)]
    s[2].delete_object(Bucket="vers", Key="k", VersionId=marker["VersionId"])
    assert read_md5(s[3], "vers", "k")[1] == 2 * MIB
    s[4].put_bucket_versioning(Bucket="vers", VersioningConfiguration={"Status": "Suspended"})
    wait_until(lambda: s[5].get_bucket_versioning(Bucket="vers").get("Status") == "Suspended",
               10, "suspension visible")
    s[5].put_object(Bucket="vers", Key="k", Body=b"null-a")
    s[0].put_object(Bucket="vers", Key="k", Body=b"null-b")
    ids = [v["VersionId"] for v in s[1].list_object_versions(Bucket="vers")["Versions"]]
    assert ids == ["null", v2, v1]
    s[2].create_bucket(Bucket="vers-markers")
    s[3].put_bucket_versioning(Bucket="vers-markers",
                               VersioningConfiguration={"Status": "Enabled"})
    s[3].put_object(Bucket="vers-markers", Key="k", Body=b"x")
    s[3].delete_object(Bucket="vers-markers", Key="k")  # only a marker is current
    raises("BucketNotEmpty", s[4].delete_bucket, Bucket="vers-markers")


def test_every_lifecycle_rule_kind_on_the_fast_clock(fast: Cluster) -> None:
    s = nodes(fast)
    s[0].create_bucket(Bucket="life")
    text = b"".join(b"%08d a compressible line of a log file\n" % i for i in range(100_000))
    s[1].put_object(Bucket="life", Key="ia/log", Body=text)
    s[2].put_object(Bucket="life", Key="arch/blob", Body=body_for("arch", 3 * MIB))
    s[3].put_object(Bucket="life", Key="exp/short", Body=b"short-lived")
    s[4].put_object(Bucket="life", Key="keep/me", Body=b"stays", Tagging="keep=yes")
    upload = s[5].create_multipart_upload(Bucket="life", Key="tmp/upload")["UploadId"]
    s[0].upload_part(Bucket="life", Key="tmp/upload", UploadId=upload, PartNumber=1,
                     Body=body_for("tmp", MIB))
    before = stored_bytes(fast)
    s[1].put_bucket_lifecycle_configuration(Bucket="life", LifecycleConfiguration={"Rules": [
        {"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": "ia/"},
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
        {"ID": "arch", "Status": "Enabled", "Filter": {"Prefix": "arch/"},
         "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}]},
        {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "exp/"},
         "Expiration": {"Days": 2}},
        {"ID": "not-tagged", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "keep/", "Tags": [{"Key": "keep", "Value": "no"}]}},
         "Expiration": {"Days": 1}},
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ]})
    head = lambda key: s[2].head_object(Bucket="life", Key=key)  # noqa: E731
    wait_until(lambda: head("ia/log").get("StorageClass") == "STANDARD_IA", 60,
               "ia/log to move to STANDARD_IA")
    wait_until(lambda: head("arch/blob").get("StorageClass") == "GLACIER", 60,
               "arch/blob to move to GLACIER")
    wait_until(lambda: error_code_of(lambda: head("exp/short")) == "404", 60,
               "exp/short to expire")
    wait_until(lambda: not s[3].list_multipart_uploads(Bucket="life").get("Uploads"), 60,
               "the incomplete upload to be aborted")
    assert read_md5(s[4], "life", "ia/log") == (md5_hex(text), len(text))
    assert s[5].get_object(Bucket="life", Key="keep/me")["Body"].read() == b"stays"
    # The log compressed; the aborted upload's part is gone; the GLACIER blob is as large.
    assert stored_bytes(fast) < before - len(text) // 2
    raises("InvalidObjectState", s[0].get_object, Bucket="life", Key="arch/blob")
    s[1].restore_object(Bucket="life", Key="arch/blob", RestoreRequest={"Days": 1000})
    wait_until(lambda: 'ongoing-request="false"' in head("arch/blob").get("Restore", ""), 30,
               "the restore to finish")
    assert read_md5(s[3], "life", "arch/blob") == (md5_hex(body_for("arch", 3 * MIB)),
                                                  3 * MIB)
    s[4].delete_bucket_lifecycle(Bucket="life")


def error_code_of(call: Any) -> str:
    try:
        call()
    except Exception as exc:
        return error_code(exc)
    return ""


def test_noncurrent_rules_and_expired_delete_markers(fast: Cluster) -> None:
    s = nodes(fast)
    s[0].create_bucket(Bucket="life-ver")
    s[0].put_bucket_versioning(Bucket="life-ver", VersioningConfiguration={"Status": "Enabled"})
    old = body_for("old", 2 * MIB)
    s[1].put_object(Bucket="life-ver", Key="a", Body=old)
    s[1].put_object(Bucket="life-ver", Key="a", Body=b"current")
    s[2].put_object(Bucket="life-ver", Key="b", Body=b"b")
    s[3].delete_object(Bucket="life-ver", Key="b")
    s[4].put_bucket_lifecycle_configuration(Bucket="life-ver", LifecycleConfiguration={
        "Rules": [
            {"ID": "old-to-ia", "Status": "Enabled", "Filter": {"Prefix": "a"},
             "NoncurrentVersionTransitions": [{"NoncurrentDays": 30,
                                               "StorageClass": "STANDARD_IA"}]},
            {"ID": "drop-old", "Status": "Enabled", "Filter": {"Prefix": "b"},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
             "Expiration": {"ExpiredObjectDeleteMarker": True}},
        ]})

    def versions(key: str) -> list[dict[str, Any]]:
        page = s[5].list_object_versions(Bucket="life-ver", Prefix=key)
        return page.get("Versions", []) + page.get("DeleteMarkers", [])

    wait_until(lambda: not versions("b"), 60, "b's old version and lone marker to go")
    wait_until(lambda: [v["StorageClass"] for v in versions("a")] == ["STANDARD", "STANDARD_IA"],
               60, "a's noncurrent version to move to STANDARD_IA")
    noncurrent = next(v for v in versions("a") if not v["IsLatest"])["VersionId"]
    body = s[0].get_object(Bucket="life-ver", Key="a", VersionId=noncurrent)["Body"].read()
    assert body == old
    s[1].delete_bucket_lifecycle(Bucket="life-ver")


def test_classes_tags_copies_and_configs_across_nodes(fast: Cluster) -> None:
    s = nodes(fast)
    s[0].create_bucket(Bucket="misc")
    data = {cls: body_for(cls, 2 * MIB + 3) for cls in
            ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA")}
    for i, (cls, body) in enumerate(data.items()):
        s[i].put_object(Bucket="misc", Key=cls, Body=body, StorageClass=cls)
    for i, (cls, body) in enumerate(data.items()):
        reader = s[(i + 3) % 6]
        assert reader.head_object(Bucket="misc", Key=cls).get("StorageClass", "STANDARD") == cls
        assert read_md5(reader, "misc", cls) == (md5_hex(body), len(body))
    listed = {o["Key"]: o["StorageClass"] for o in s[5].list_objects_v2(Bucket="misc")["Contents"]}
    assert listed == {cls: cls for cls in data}
    s[1].copy_object(Bucket="misc", Key="STANDARD", CopySource="misc/STANDARD",
                     StorageClass="STANDARD_IA")
    assert s[2].head_object(Bucket="misc", Key="STANDARD")["StorageClass"] == "STANDARD_IA"
    assert read_md5(s[3], "misc", "STANDARD")[0] == md5_hex(data["STANDARD"])
    s[4].put_object_tagging(Bucket="misc", Key="STANDARD",
                            Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
    assert s[5].get_object_tagging(Bucket="misc", Key="STANDARD")["TagSet"] == [
        {"Key": "team", "Value": "storage"}]
    assert s[0].get_object(Bucket="misc", Key="STANDARD")["TagCount"] == 1
    s[1].delete_object_tagging(Bucket="misc", Key="STANDARD")
    assert s[2].get_object_tagging(Bucket="misc", Key="STANDARD")["TagSet"] == []
    uid = s[3].create_multipart_upload(Bucket="misc", Key="joined",
                                       StorageClass="STANDARD_IA")["UploadId"]
    part = s[4].upload_part_copy(Bucket="misc", Key="joined", UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": "misc", "Key": "ONEZONE_IA"},
                                 CopySourceRange="bytes=0-99")["CopyPartResult"]["ETag"]
    s[5].complete_multipart_upload(Bucket="misc", Key="joined", UploadId=uid,
                                   MultipartUpload={"Parts": [{"ETag": part, "PartNumber": 1}]})
    joined = s[0].get_object(Bucket="misc", Key="joined")
    assert joined["StorageClass"] == "STANDARD_IA"
    assert joined["Body"].read() == data["ONEZONE_IA"][:100]
    rules = [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "never/"},
              "Expiration": {"Days": 365}}]
    s[1].put_bucket_lifecycle_configuration(Bucket="misc",
                                            LifecycleConfiguration={"Rules": rules})
    wait_until(lambda: s[2].get_bucket_lifecycle_configuration(Bucket="misc")["Rules"][0]["ID"]
               == "x", 10, "the lifecycle configuration on another node")
    raises("InvalidArgument", s[3].put_bucket_lifecycle_configuration, Bucket="misc",
           LifecycleConfiguration={"Rules": [
               {"ID": "early", "Status": "Enabled", "Filter": {},
                "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]}]})
    s[4].delete_bucket_lifecycle(Bucket="misc")
    wait_until(lambda: error_code_of(lambda: s[5].get_bucket_lifecycle_configuration(
        Bucket="misc")) == "NoSuchLifecycleConfiguration", 10, "the deletion on another node")


def test_one_zone_ia_follows_its_zone_standard_survives(fast: Cluster) -> None:
    s = {n: fast.client(n) for n in fast.node_ids}
    zone_a, zone_b = fast.zone(fast.node_ids[0]), fast.zone(fast.node_ids[1])
    writer_a, writer_b = fast.nodes_in(zone_a)[0], fast.nodes_in(zone_b)[0]
    s[writer_a].create_bucket(Bucket="zones")
    std, one_a, one_b = (body_for(k, 2 * MIB) for k in ("std", "one-a", "one-b"))
    s[writer_a].put_object(Bucket="zones", Key="std", Body=std)
    s[writer_a].put_object(Bucket="zones", Key="one-a", Body=one_a, StorageClass="ONEZONE_IA")
    s[writer_b].put_object(Bucket="zones", Key="one-b", Body=one_b, StorageClass="ONEZONE_IA")
    down = fast.nodes_in(zone_a)
    fast.kill9(down)
    try:
        survivor = fast.client(next(n for n in fast.node_ids if n not in down), timeout=20)
        assert read_md5(survivor, "zones", "std") == (md5_hex(std), len(std))
        assert read_md5(survivor, "zones", "one-b") == (md5_hex(one_b), len(one_b))
        assert survivor.head_object(Bucket="zones", Key="one-a")["StorageClass"] == \
            "ONEZONE_IA"
        err = raises("ServiceUnavailable", survivor.get_object, Bucket="zones", Key="one-a")
        assert zone_a in str(err)
    finally:
        start = time.monotonic()
        fast.restart(down)
    wait_until(lambda: read_md5(fast.client(writer_b), "zones", "one-a")[1] == len(one_a),
               60 - (time.monotonic() - start), "ONEZONE_IA data back with its zone")
    assert read_md5(fast.client(writer_b), "zones", "one-a") == (md5_hex(one_a), len(one_a))
