"""``LifecycleConfiguration`` (Put/GetBucketLifecycleConfiguration).

Parsing keeps what S3 tells apart (an element absent versus empty or zero) in the
proto's ``optional`` fields, then applies the object service's own validation
(engine.objects.lifecycle.validate), so the REST and gRPC endpoints refuse the same
rules with the same codes. Dates (``<Date>`` in Expiration/Transition) are not in the
gRPC contract: they are refused with NotImplemented rather than silently dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.api.s3.xml.base import CONFIG_BODY, INT32_MAX, Node, add, add_if, parse, render, root
from engine.errors import EngineError
from engine.objects import lifecycle
from engine.v1 import lifecycle_pb2 as lc

_NO_DATES = "Lifecycle rules with a Date are not supported; use Days"


def _int32(node: Node, name: str) -> int | None:
    value = node.integer(name)
    if value is not None and not -INT32_MAX - 1 <= value <= INT32_MAX:
        raise node.fail()
    return value


def _refuse_date(node: Node) -> None:
    if node.child("Date") is not None:
        raise EngineError("NotImplemented", _NO_DATES)


def _tag(node: Node) -> lc.LifecycleTag:
    key, value = node.string("Key"), node.string("Value")
    if key is None or value is None:
        raise node.fail()
    return lc.LifecycleTag(key=key, value=value)


def _sizes(node: Node, into: lc.LifecycleFilter | lc.LifecycleAnd) -> None:
    greater, less = node.integer("ObjectSizeGreaterThan"), node.integer("ObjectSizeLessThan")
    if greater is not None:
        into.object_size_greater_than = greater
    if less is not None:
        into.object_size_less_than = less


def _filter(node: Node) -> lc.LifecycleFilter:
    out = lc.LifecycleFilter()
    if (prefix := node.string("Prefix")) is not None:
        out.prefix = prefix
    if (tag := node.child("Tag")) is not None:
        out.tag.CopyFrom(_tag(tag))
    _sizes(node, out)
    if (conj := node.child("And")) is not None:
        both: lc.LifecycleAnd = getattr(out, "and")
        both.SetInParent()
        if (prefix := conj.string("Prefix")) is not None:
            both.prefix = prefix
        both.tags.extend(_tag(t) for t in conj.children("Tag"))
        _sizes(conj, both)
    return out


def _rule(node: Node) -> lc.LifecycleRule:
    rule = lc.LifecycleRule(id=node.string("ID") or "", status=node.token("Status") or "")
    filter_node = node.child("Filter")
    prefix = node.string("Prefix")
    if filter_node is None and prefix is None:
        raise node.fail()  # S3: Filter is required unless the rule has a Prefix
    if filter_node is not None:
        rule.filter.CopyFrom(_filter(filter_node))
    if prefix is not None:
        rule.prefix = prefix
    if (exp := node.child("Expiration")) is not None:
        _refuse_date(exp)
        rule.expiration.SetInParent()
        if (days := _int32(exp, "Days")) is not None:
            rule.expiration.days = days
        if (marker := exp.boolean("ExpiredObjectDeleteMarker")) is not None:
            rule.expiration.expired_object_delete_marker = marker
    for item in node.children("Transition"):
        _refuse_date(item)
        transition = rule.transitions.add(storage_class=item.token("StorageClass") or "")
        if (days := _int32(item, "Days")) is not None:
            transition.days = days
    for item in node.children("NoncurrentVersionTransition"):
        nvt = rule.noncurrent_version_transitions.add(
            storage_class=item.token("StorageClass") or "")
        if (days := _int32(item, "NoncurrentDays")) is not None:
            nvt.noncurrent_days = days
        if (newer := _int32(item, "NewerNoncurrentVersions")) is not None:
            nvt.newer_noncurrent_versions = newer
    if (nve_node := node.child("NoncurrentVersionExpiration")) is not None:
        nve = rule.noncurrent_version_expiration
        nve.SetInParent()
        if (days := _int32(nve_node, "NoncurrentDays")) is not None:
            nve.noncurrent_days = days
        if (newer := _int32(nve_node, "NewerNoncurrentVersions")) is not None:
            nve.newer_noncurrent_versions = newer
    if (abort_node := node.child("AbortIncompleteMultipartUpload")) is not None:
        abort = rule.abort_incomplete_multipart_upload
        abort.SetInParent()
        if (days := _int32(abort_node, "DaysAfterInitiation")) is not None:
            abort.days_after_initiation = days
    return rule


def parse_lifecycle(body: bytes) -> lc.LifecycleConfiguration:
    """The configuration, validated as S3 validates PutBucketLifecycleConfiguration."""
    doc = parse(body, "LifecycleConfiguration", CONFIG_BODY)
    config = lc.LifecycleConfiguration(rules=[_rule(r) for r in doc.children("Rule")])
    lifecycle.validate(config)
    return config


# --- GetBucketLifecycleConfiguration ---------------------------------------------------------


def _add_tag(parent: ET.Element, tag: lc.LifecycleTag) -> None:
    entry = add(parent, "Tag")
    add(entry, "Key", tag.key)
    add(entry, "Value", tag.value)


def _add_sizes(parent: ET.Element, f: lc.LifecycleFilter | lc.LifecycleAnd) -> None:
    if f.HasField("object_size_greater_than"):
        add(parent, "ObjectSizeGreaterThan", f.object_size_greater_than)
    if f.HasField("object_size_less_than"):
        add(parent, "ObjectSizeLessThan", f.object_size_less_than)


def _add_filter(parent: ET.Element, f: lc.LifecycleFilter) -> None:
    node = add(parent, "Filter")
    if f.HasField("prefix"):
        add(node, "Prefix", f.prefix)
    if f.HasField("tag"):
        _add_tag(node, f.tag)
    _add_sizes(node, f)
    if f.HasField("and"):
        conj: lc.LifecycleAnd = getattr(f, "and")
        both = add(node, "And")
        if conj.HasField("prefix"):
            add(both, "Prefix", conj.prefix)
        for tag in conj.tags:
            _add_tag(both, tag)
        _add_sizes(both, conj)


def _add_rule(parent: ET.Element, rule: lc.LifecycleRule) -> None:
    node = add(parent, "Rule")
    add_if(node, "ID", rule.id)
    if rule.HasField("prefix"):
        add(node, "Prefix", rule.prefix)
    if rule.HasField("filter"):
        _add_filter(node, rule.filter)
    add(node, "Status", rule.status)
    for t in rule.transitions:
        item = add(node, "Transition")
        if t.HasField("days"):
            add(item, "Days", t.days)
        add(item, "StorageClass", t.storage_class)
    if rule.HasField("expiration"):
        item = add(node, "Expiration")
        if rule.expiration.HasField("days"):
            add(item, "Days", rule.expiration.days)
        if rule.expiration.HasField("expired_object_delete_marker"):
            add(item, "ExpiredObjectDeleteMarker", rule.expiration.expired_object_delete_marker)
    for t in rule.noncurrent_version_transitions:
        item = add(node, "NoncurrentVersionTransition")
        if t.HasField("noncurrent_days"):
            add(item, "NoncurrentDays", t.noncurrent_days)
        add(item, "StorageClass", t.storage_class)
        if t.HasField("newer_noncurrent_versions"):
            add(item, "NewerNoncurrentVersions", t.newer_noncurrent_versions)
    if rule.HasField("noncurrent_version_expiration"):
        nve = rule.noncurrent_version_expiration
        item = add(node, "NoncurrentVersionExpiration")
        if nve.HasField("noncurrent_days"):
            add(item, "NoncurrentDays", nve.noncurrent_days)
        if nve.HasField("newer_noncurrent_versions"):
            add(item, "NewerNoncurrentVersions", nve.newer_noncurrent_versions)
    if rule.HasField("abort_incomplete_multipart_upload"):
        abort = rule.abort_incomplete_multipart_upload
        item = add(node, "AbortIncompleteMultipartUpload")
        if abort.HasField("days_after_initiation"):
            add(item, "DaysAfterInitiation", abort.days_after_initiation)


def lifecycle_result(config: lc.LifecycleConfiguration) -> bytes:
    doc = root("LifecycleConfiguration")
    for rule in config.rules:
        _add_rule(doc, rule)
    return render(doc)
