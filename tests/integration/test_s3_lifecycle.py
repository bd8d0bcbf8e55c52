"""Lifecycle configurations, archive restores and storage classes through the SDK, against
real `engine serve` processes: S3's validation codes for bad rules, and a restore seen
both in progress (a normal day) and finished (`--day-seconds` makes a day 50 ms)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_s3 import error_code

from engine.client import ClientError, ParamValidationError, client


def rules(*items: dict[str, Any]) -> dict[str, Any]:
    return {"Rules": list(items)}


def rule(**kw: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, **kw}


@pytest.mark.parametrize(("config", "code"), [
    (rules(rule(Transitions=[{"Days": 29, "StorageClass": "STANDARD_IA"}])),
     "InvalidArgument"),  # IA needs 30 days
    (rules(rule(Transitions=[{"Days": 60, "StorageClass": "STANDARD_IA"},
                             {"Days": 60, "StorageClass": "GLACIER"}])),
     "InvalidArgument"),  # overlapping days
    (rules(rule(Transitions=[{"Days": 90, "StorageClass": "STANDARD_IA"},
                             {"Days": 60, "StorageClass": "GLACIER"}])),
     "InvalidArgument"),  # GLACIER before IA
    (rules(rule(Transitions=[{"Days": 30, "StorageClass": "DEEP_FREEZER"}])), "MalformedXML"),
    (rules(rule(Transitions=[{"Days": 30, "StorageClass": "STANDARD"}])), "InvalidArgument"),
    (rules(rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}],
                Expiration={"Days": 10})), "InvalidArgument"),  # expires before moving
    (rules(rule(Expiration={"Days": 0})), "InvalidArgument"),
    (rules(rule(Status="On", Expiration={"Days": 1})), "MalformedXML"),
    (rules(rule()), "InvalidRequest"),  # no action
    (rules(rule(Expiration={"Days": 1}), rule(Expiration={"Days": 2})), "InvalidArgument"),
    (rules(rule(Filter={"Tag": {"Key": "k", "Value": "v"}},
                AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})),
     "InvalidRequest"),
    (rules(rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})), "InvalidArgument"),
    (rules(), "MalformedXML"),
])
def test_bad_lifecycle_configurations_get_s3_codes(s3, bucket, config, code) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    assert error_code(info) == code, info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(info) == "NoSuchLifecycleConfiguration"


def test_lifecycle_configuration_round_trip(s3, bucket) -> None:
    config = rules(
        rule(ID="logs", Filter={"And": {"Prefix": "logs/", "Tags": [
            {"Key": "tier", "Value": "cold"}]}},
             Transitions=[{"Days": 30, "StorageClass": "STANDARD_IA"},
                          {"Days": 90, "StorageClass": "GLACIER"}],
             Expiration={"Days": 365}),
        rule(ID="versions", NoncurrentVersionExpiration={"NoncurrentDays": 7},
             AbortIncompleteMultipartUpload={"DaysAfterInitiation": 2}),
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "versions"]
    assert got[0]["Transitions"] == config["Rules"][0]["Transitions"]
    assert got[0]["Filter"] == config["Rules"][0]["Filter"]
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    with pytest.raises(ParamValidationError):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [{"ID": "no-status", "Filter": {}, "Expiration": {"Days": 1}}]})
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(info) == "NoSuchLifecycleConfiguration"


def test_restore_in_progress_on_a_normal_clock(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="cold", Body=b"archived", StorageClass="GLACIER")
    with pytest.raises(s3.exceptions.InvalidObjectState):
        s3.get_object(Bucket=bucket, Key="cold")
    started = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 2})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.head_object(Bucket=bucket, Key="cold")["Restore"] == 'ongoing-request="true"'
    with pytest.raises(ClientError) as info:
        s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 2})
    assert error_code(info) == "RestoreAlreadyInProgress"
    with pytest.raises(s3.exceptions.InvalidObjectState):  # copies need a restore too
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "cold"})
    s3.put_object(Bucket=bucket, Key="warm", Body=b"w")
    with pytest.raises(s3.exceptions.ObjectAlreadyInActiveTierError):
        s3.restore_object(Bucket=bucket, Key="warm", RestoreRequest={"Days": 1})


def test_restore_completes_and_expires_on_a_fast_clock(server_factory) -> None:
    server = server_factory("--day-seconds", "0.05").start()
    with client("s3", endpoint=server.endpoint) as s3:
        s3.create_bucket(Bucket="fast")
        s3.put_object(Bucket="fast", Key="cold", Body=b"archived" * 50_000,
                      StorageClass="GLACIER")
        s3.restore_object(Bucket="fast", Key="cold", RestoreRequest={
            "Days": 200, "GlacierJobParameters": {"Tier": "Bulk"}})  # 10 s of copy
        restore = wait_for(lambda: s3.head_object(Bucket="fast", Key="cold").get("Restore"),
                           'ongoing-request="false"')
        assert 'expiry-date="' in restore
        assert s3.get_object(Bucket="fast", Key="cold")["Body"].read() == b"archived" * 50_000
        again = s3.restore_object(Bucket="fast", Key="cold", RestoreRequest={"Days": 1})
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200  # already restored
        wait_for(lambda: error_code_of(lambda: s3.get_object(Bucket="fast", Key="cold")),
                 "InvalidObjectState")  # the 1-day copy (50 ms) expired


def error_code_of(call: Any) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return ""


def wait_for(probe: Any, expected: str, timeout: float = 20.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = probe() or ""
        if expected in value:
            return value
        assert time.monotonic() < deadline, f"still {value!r}, waiting for {expected!r}"
        time.sleep(0.05)
