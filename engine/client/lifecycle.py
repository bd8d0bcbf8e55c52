"""Lifecycle configurations: boto3's ``{"Rules": [...]}`` dicts <-> LifecycleConfiguration.

Members keep S3's names and nesting; an element the user left out stays unset on the
wire (the proto marks them optional), so the service can tell "absent" from "zero"
as S3's validation does, and a GET returns exactly the members that were stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client.errors import ParamValidationError
from engine.client.shapes import ListOf, Struct, Timestamp, validate
from engine.v1 import lifecycle_pb2 as lc

_TAG = Struct({"Key": str, "Value": str}, required=("Key", "Value"))
_AND = Struct({"Prefix": str, "Tags": ListOf(_TAG), "ObjectSizeGreaterThan": int,
               "ObjectSizeLessThan": int})
_FILTER = Struct({"Prefix": str, "Tag": _TAG, "ObjectSizeGreaterThan": int,
                  "ObjectSizeLessThan": int, "And": _AND})
_EXPIRATION = Struct({"Date": Timestamp, "Days": int, "ExpiredObjectDeleteMarker": bool})
_TRANSITION = Struct({"Date": Timestamp, "Days": int, "StorageClass": str})
_NONCURRENT_TRANSITION = Struct({"NoncurrentDays": int, "StorageClass": str,
                                 "NewerNoncurrentVersions": int})
_NONCURRENT_EXPIRATION = Struct({"NoncurrentDays": int, "NewerNoncurrentVersions": int})
_ABORT = Struct({"DaysAfterInitiation": int})
_RULE = Struct(
    {
        "Expiration": _EXPIRATION,
        "ID": str,
        "Prefix": str,
        "Filter": _FILTER,
        "Status": str,
        "Transitions": ListOf(_TRANSITION),
        "NoncurrentVersionTransitions": ListOf(_NONCURRENT_TRANSITION),
        "NoncurrentVersionExpiration": _NONCURRENT_EXPIRATION,
        "AbortIncompleteMultipartUpload": _ABORT,
    },
    required=("Status",),
)
CONFIGURATION = Struct({"Rules": ListOf(_RULE)}, required=("Rules",))


def to_proto(config: Mapping[str, Any], name: str = "LifecycleConfiguration"
             ) -> lc.LifecycleConfiguration:
    """Validate as botocore does, then build the message."""
    validate(config, CONFIGURATION, name)
    return lc.LifecycleConfiguration(
        rules=[_rule(r, f"{name}.Rules[{i}]") for i, r in enumerate(config["Rules"])]
    )


def to_dict(config: lc.LifecycleConfiguration) -> list[dict[str, Any]]:
    """The ``Rules`` of a GetBucketLifecycleConfiguration response."""
    return [_rule_dict(r) for r in config.rules]


# -- dict -> proto ---------------------------------------------------------------------


def _no_date(member: Mapping[str, Any], name: str) -> None:
    if "Date" in member:
        raise ParamValidationError(
            f"Parameter validation failed:\n{name}.Date is not supported by this service; "
            "give Days instead"
        )


def _tag(t: Mapping[str, str]) -> lc.LifecycleTag:
    return lc.LifecycleTag(key=t["Key"], value=t["Value"])


def _put(msg: Any, src: Mapping[str, Any], member: str, field: str) -> None:
    """Set ``field`` only when the user gave ``member`` (absent stays unset): _set's inverse."""
    if member in src:
        setattr(msg, field, src[member])


def _filter(f: Mapping[str, Any]) -> lc.LifecycleFilter:
    msg = lc.LifecycleFilter()
    _put(msg, f, "Prefix", "prefix")
    if "Tag" in f:
        msg.tag.CopyFrom(_tag(f["Tag"]))
    _put(msg, f, "ObjectSizeGreaterThan", "object_size_greater_than")
    _put(msg, f, "ObjectSizeLessThan", "object_size_less_than")
    if "And" in f:
        a = f["And"]
        conj = getattr(msg, "and")  # a Python keyword, so no attribute syntax
        conj.SetInParent()
        _put(conj, a, "Prefix", "prefix")
        conj.tags.extend(_tag(t) for t in a.get("Tags", ()))
        _put(conj, a, "ObjectSizeGreaterThan", "object_size_greater_than")
        _put(conj, a, "ObjectSizeLessThan", "object_size_less_than")
    return msg


def _rule(r: Mapping[str, Any], name: str) -> lc.LifecycleRule:
    msg = lc.LifecycleRule(id=r.get("ID", ""), status=r["Status"])
    _put(msg, r, "Prefix", "prefix")
    if "Filter" in r:
        msg.filter.CopyFrom(_filter(r["Filter"]))
    for i, t in enumerate(r.get("Transitions", ())):
        _no_date(t, f"{name}.Transitions[{i}]")
        tr = msg.transitions.add(storage_class=t.get("StorageClass", ""))
        _put(tr, t, "Days", "days")
    if "Expiration" in r:
        e = r["Expiration"]
        _no_date(e, f"{name}.Expiration")
        msg.expiration.SetInParent()
        _put(msg.expiration, e, "Days", "days")
        _put(msg.expiration, e, "ExpiredObjectDeleteMarker", "expired_object_delete_marker")
    for t in r.get("NoncurrentVersionTransitions", ()):
        nt = msg.noncurrent_version_transitions.add(storage_class=t.get("StorageClass", ""))
        _put(nt, t, "NoncurrentDays", "noncurrent_days")
        _put(nt, t, "NewerNoncurrentVersions", "newer_noncurrent_versions")
    if "NoncurrentVersionExpiration" in r:
        ne = r["NoncurrentVersionExpiration"]
        msg.noncurrent_version_expiration.SetInParent()
        _put(msg.noncurrent_version_expiration, ne, "NoncurrentDays", "noncurrent_days")
        _put(msg.noncurrent_version_expiration, ne, "NewerNoncurrentVersions",
             "newer_noncurrent_versions")
    if "AbortIncompleteMultipartUpload" in r:
        ab = r["AbortIncompleteMultipartUpload"]
        msg.abort_incomplete_multipart_upload.SetInParent()
        _put(msg.abort_incomplete_multipart_upload, ab, "DaysAfterInitiation",
             "days_after_initiation")
    return msg


# -- proto -> dict ---------------------------------------------------------------------


def _tag_dict(t: lc.LifecycleTag) -> dict[str, str]:
    return {"Key": t.key, "Value": t.value}


def _set(out: dict[str, Any], msg: Any, field: str, member: str) -> None:
    if msg.HasField(field):
        out[member] = getattr(msg, field)


def _filter_dict(f: lc.LifecycleFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _set(out, f, "prefix", "Prefix")
    if f.HasField("tag"):
        out["Tag"] = _tag_dict(f.tag)
    _set(out, f, "object_size_greater_than", "ObjectSizeGreaterThan")
    _set(out, f, "object_size_less_than", "ObjectSizeLessThan")
    if f.HasField("and"):
        a = getattr(f, "and")
        conj: dict[str, Any] = {}
        _set(conj, a, "prefix", "Prefix")
        if a.tags:
            conj["Tags"] = [_tag_dict(t) for t in a.tags]
        _set(conj, a, "object_size_greater_than", "ObjectSizeGreaterThan")
        _set(conj, a, "object_size_less_than", "ObjectSizeLessThan")
        out["And"] = conj
    return out


def _rule_dict(r: lc.LifecycleRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.HasField("expiration"):
        exp: dict[str, Any] = {}
        _set(exp, r.expiration, "days", "Days")
        _set(exp, r.expiration, "expired_object_delete_marker", "ExpiredObjectDeleteMarker")
        out["Expiration"] = exp
    if r.id:
        out["ID"] = r.id
    _set(out, r, "prefix", "Prefix")
    if r.HasField("filter"):
        out["Filter"] = _filter_dict(r.filter)
    out["Status"] = r.status
    if r.transitions:
        out["Transitions"] = []
        for t in r.transitions:
            tr: dict[str, Any] = {}
            _set(tr, t, "days", "Days")
            tr["StorageClass"] = t.storage_class
            out["Transitions"].append(tr)
    if r.noncurrent_version_transitions:
        out["NoncurrentVersionTransitions"] = []
        for t in r.noncurrent_version_transitions:
            nt: dict[str, Any] = {}
            _set(nt, t, "noncurrent_days", "NoncurrentDays")
            nt["StorageClass"] = t.storage_class
            _set(nt, t, "newer_noncurrent_versions", "NewerNoncurrentVersions")
            out["NoncurrentVersionTransitions"].append(nt)
    if r.HasField("noncurrent_version_expiration"):
        ne: dict[str, Any] = {}
        _set(ne, r.noncurrent_version_expiration, "noncurrent_days", "NoncurrentDays")
        _set(ne, r.noncurrent_version_expiration, "newer_noncurrent_versions",
             "NewerNoncurrentVersions")
        out["NoncurrentVersionExpiration"] = ne
    if r.HasField("abort_incomplete_multipart_upload"):
        ab: dict[str, Any] = {}
        _set(ab, r.abort_incomplete_multipart_upload, "days_after_initiation",
             "DaysAfterInitiation")
        out["AbortIncompleteMultipartUpload"] = ab
    return out
