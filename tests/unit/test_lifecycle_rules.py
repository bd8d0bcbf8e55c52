"""S3 lifecycle rules: PutBucketLifecycleConfiguration's validation and what falls due when."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.objects.lifecycle import (
    DEPTH,
    TARGETS,
    ExpireCurrent,
    RemoveVersion,
    Transition,
    describe_filter,
    due_uploads,
    plan_entry,
    validate,
)
from engine.v1 import lifecycle_pb2 as lc
from engine.v1 import records_pb2 as rec

DAY = 1_000  # a short day: nothing here depends on its length
T0 = 1_000_000_000


def rule(**fields: Any) -> lc.LifecycleRule:
    """An enabled rule over the whole bucket; `filter_and` stands for the keyword `and`."""
    fields.setdefault("status", "Enabled")
    if "filter_and" in fields:
        fields["filter"] = lc.LifecycleFilter(
            **{"and": lc.LifecycleAnd(**fields.pop("filter_and"))}
        )
    return lc.LifecycleRule(**fields)


def config(*rules: lc.LifecycleRule) -> lc.LifecycleConfiguration:
    return lc.LifecycleConfiguration(rules=rules)


def expire(days: int) -> lc.LifecycleExpiration:
    return lc.LifecycleExpiration(days=days)


def to(cls: str, days: int) -> lc.LifecycleTransition:
    return lc.LifecycleTransition(storage_class=cls, days=days)


def nc_to(cls: str, days: int, newer: int | None = None) -> lc.NoncurrentVersionTransition:
    t = lc.NoncurrentVersionTransition(storage_class=cls, noncurrent_days=days)
    if newer is not None:
        t.newer_noncurrent_versions = newer
    return t


def tag(key: str, value: str) -> lc.LifecycleTag:
    return lc.LifecycleTag(key=key, value=value)


def error(cfg: lc.LifecycleConfiguration) -> EngineError:
    with pytest.raises(EngineError) as info:
        validate(cfg)
    return info.value


def version(
    vid: str, mtime: int, *, marker: bool = False, size: int = 10, cls: str = "", **tags: str
) -> rec.ObjectVersion:
    return rec.ObjectVersion(
        version_id=vid,
        mtime_ns=mtime,
        delete_marker=marker,
        size=size,
        storage_class=cls,
        tags=tags,
    )


def entry(*versions: rec.ObjectVersion) -> rec.ObjectEntry:
    return rec.ObjectEntry(versions=versions)


def at(days: float) -> int:
    return T0 + int(days * DAY)


# --- validation: accepted -----------------------------------------------------------------


VALID = [
    rule(id="all", expiration=expire(1)),
    rule(prefix="logs/", expiration=expire(365)),
    rule(filter=lc.LifecycleFilter(prefix="a/"), transitions=[to("GLACIER", 0)]),
    rule(filter=lc.LifecycleFilter(tag=tag("k", "v")), expiration=expire(3)),
    rule(filter=lc.LifecycleFilter(object_size_greater_than=0), expiration=expire(3)),
    rule(filter=lc.LifecycleFilter(object_size_less_than=1), expiration=expire(3)),
    rule(filter_and={"prefix": "p", "tags": [tag("a", "1")]}, expiration=expire(3)),
    rule(filter_and={"tags": [tag("a", "1"), tag("b", "")]}, expiration=expire(3)),
    rule(
        filter_and={"object_size_greater_than": 10, "object_size_less_than": 20},
        expiration=expire(3),
    ),
    rule(
        status="Disabled",
        transitions=[to("STANDARD_IA", 30), to("ONEZONE_IA", 60), to("GLACIER", 90)],
        expiration=expire(91),
    ),
    rule(transitions=[to("GLACIER", 90), to("STANDARD_IA", 30)]),  # order in the list is free
    rule(transitions=[to("ONEZONE_IA", 30), to("GLACIER", 31)]),
    rule(expiration=lc.LifecycleExpiration(expired_object_delete_marker=True)),
    rule(
        expiration=lc.LifecycleExpiration(expired_object_delete_marker=True),
        transitions=[to("GLACIER", 12)],
    ),
    rule(
        noncurrent_version_transitions=[nc_to("STANDARD_IA", 30, newer=2), nc_to("GLACIER", 40)],
        noncurrent_version_expiration=lc.NoncurrentVersionExpiration(
            noncurrent_days=41, newer_noncurrent_versions=5
        ),
    ),
    rule(noncurrent_version_transitions=[nc_to("GLACIER", 0)]),
    rule(
        filter=lc.LifecycleFilter(prefix="up/"),
        abort_incomplete_multipart_upload=lc.AbortIncompleteMultipartUpload(
            days_after_initiation=7
        ),
    ),
    rule(id="x" * 255, expiration=expire(1)),
]


@pytest.mark.parametrize("r", VALID, ids=range(len(VALID)))
def test_valid_rules_are_accepted(r: lc.LifecycleRule) -> None:
    validate(config(r))


def test_many_rules_and_unnamed_rules_are_accepted() -> None:
    validate(config(*[rule(id=f"r{i}", expiration=expire(1)) for i in range(1000)]))
    validate(config(rule(expiration=expire(1)), rule(expiration=expire(2))))  # empty IDs


# --- validation: refused --------------------------------------------------------------------


def abort(days: int = 1) -> lc.AbortIncompleteMultipartUpload:
    return lc.AbortIncompleteMultipartUpload(days_after_initiation=days)


EODM = lc.LifecycleExpiration(expired_object_delete_marker=True)
TAG_FILTER = lc.LifecycleFilter(tag=tag("k", "v"))
SIZE_FILTER = lc.LifecycleFilter(object_size_greater_than=5)

INVALID: list[tuple[str, list[lc.LifecycleRule], str, str]] = [
    # (case, rules, code, part of the message)
    ("no rules", [], "MalformedXML", "at least one Rule"),
    ("too many rules", [rule(expiration=expire(1))] * 1001, "InvalidRequest", "limit of 1000"),
    ("long id", [rule(id="x" * 256, expiration=expire(1))], "InvalidArgument", "ID length"),
    (
        "duplicate id",
        [rule(id="a", expiration=expire(1)), rule(id="a", expiration=expire(2))],
        "InvalidArgument",
        "Rule ID must be unique. Found same ID for more than one rule",
    ),
    ("bad status", [rule(status="enabled", expiration=expire(1))], "MalformedXML", "Status"),
    ("empty status", [rule(status="", expiration=expire(1))], "MalformedXML", "Status"),
    ("no action", [rule(id="idle")], "InvalidRequest", "At least one action"),
    (
        "prefix and filter",
        [rule(prefix="a", filter=lc.LifecycleFilter(prefix="a"), expiration=expire(1))],
        "MalformedXML",
        "not both",
    ),
    (
        "two predicates",
        [rule(filter=lc.LifecycleFilter(prefix="a", tag=tag("k", "v")), expiration=expire(1))],
        "MalformedXML",
        "use And",
    ),
    (
        "prefix and size without and",
        [
            rule(
                filter=lc.LifecycleFilter(prefix="a", object_size_less_than=9),
                expiration=expire(1),
            )
        ],
        "MalformedXML",
        "use And",
    ),
    (
        "and with one predicate",
        [rule(filter_and={"prefix": "a"}, expiration=expire(1))],
        "MalformedXML",
        "at least two",
    ),
    (
        "and with one tag",
        [rule(filter_and={"tags": [tag("a", "1")]}, expiration=expire(1))],
        "MalformedXML",
        "at least two",
    ),
    (
        "duplicate tag keys",
        [rule(filter_and={"tags": [tag("a", "1"), tag("a", "2")]}, expiration=expire(1))],
        "InvalidRequest",
        "Duplicate Tag Keys",
    ),
    (
        "empty tag key",
        [rule(filter=lc.LifecycleFilter(tag=tag("", "v")), expiration=expire(1))],
        "InvalidTag",
        "TagKey",
    ),
    (
        "long tag key",
        [rule(filter=lc.LifecycleFilter(tag=tag("k" * 129, "v")), expiration=expire(1))],
        "InvalidTag",
        "max 128",
    ),
    (
        "long tag value",
        [
            rule(
                filter_and={"prefix": "p", "tags": [tag("k", "v" * 257)]},
                expiration=expire(1),
            )
        ],
        "InvalidTag",
        "max 256",
    ),
    (
        "negative size",
        [rule(filter=lc.LifecycleFilter(object_size_greater_than=-1), expiration=expire(1))],
        "InvalidRequest",
        "'ObjectSizeGreaterThan' should be between",
    ),
    (
        "zero less-than",
        [rule(filter=lc.LifecycleFilter(object_size_less_than=0), expiration=expire(1))],
        "InvalidRequest",
        "'ObjectSizeLessThan' should be between",
    ),
    (
        "inverted sizes",
        [
            rule(
                filter_and={"object_size_greater_than": 9, "object_size_less_than": 9},
                expiration=expire(1),
            )
        ],
        "InvalidRequest",
        "has to be a value greater",
    ),
    (
        "expiration without anything",
        [rule(expiration=lc.LifecycleExpiration())],
        "MalformedXML",
        "exactly one of Days and ExpiredObjectDeleteMarker",
    ),
    (
        "expiration days and marker",
        [rule(expiration=lc.LifecycleExpiration(days=1, expired_object_delete_marker=True))],
        "MalformedXML",
        "exactly one of Days and ExpiredObjectDeleteMarker",
    ),
    (
        "zero expiration days",
        [rule(expiration=expire(0))],
        "InvalidArgument",
        "'Days' for Expiration action must be a positive integer",
    ),
    (
        "marker with tag",
        [rule(filter=TAG_FILTER, expiration=EODM)],
        "InvalidRequest",
        "ExpiredObjectDeleteMarker cannot be specified with Tags.",
    ),
    (
        "marker with and-tags",
        [rule(filter_and={"prefix": "p", "tags": [tag("k", "v")]}, expiration=EODM)],
        "InvalidRequest",
        "ExpiredObjectDeleteMarker cannot be specified with Tags.",
    ),
    (
        "marker with size",
        [rule(filter=SIZE_FILTER, expiration=EODM)],
        "InvalidRequest",
        "ExpiredObjectDeleteMarker cannot be specified with Object Size.",
    ),
    (
        "transition to STANDARD",
        [rule(transitions=[to("STANDARD", 30)])],
        "InvalidArgument",
        "STANDARD is not a valid target",
    ),
    (
        "transition to REDUCED_REDUNDANCY",
        [rule(transitions=[to("REDUCED_REDUNDANCY", 30)])],
        "InvalidArgument",
        "REDUCED_REDUNDANCY is not a valid target",
    ),
    (
        "transition to unknown class",
        [rule(transitions=[to("DEEP_FRIDGE", 30)])],
        "MalformedXML",
        "DEEP_FRIDGE",
    ),
    (
        "transition without class",
        [rule(transitions=[to("", 30)])],
        "MalformedXML",
        "StorageClass",
    ),
    (
        "transition without days",
        [rule(transitions=[lc.LifecycleTransition(storage_class="GLACIER")])],
        "InvalidArgument",
        "'Transition' action must specify either 'Days' or 'Date'",
    ),
    (
        "negative transition days",
        [rule(transitions=[to("GLACIER", -1)])],
        "InvalidArgument",
        "'Days' in Transition action must be nonnegative",
    ),
    (
        "STANDARD_IA before 30 days",
        [rule(transitions=[to("STANDARD_IA", 29)])],
        "InvalidArgument",
        "'Days' in Transition action must be greater than or equal to 30 for storageClass "
        "'STANDARD_IA'",
    ),
    (
        "ONEZONE_IA before 30 days",
        [rule(transitions=[to("ONEZONE_IA", 0)])],
        "InvalidArgument",
        "greater than or equal to 30 for storageClass 'ONEZONE_IA'",
    ),
    (
        "two transitions to one class",
        [rule(prefix="p/", transitions=[to("GLACIER", 30), to("GLACIER", 90)])],
        "InvalidRequest",
        "'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter "
        "'(prefix=p/)'",
    ),
    (
        "overlapping days",
        [rule(transitions=[to("STANDARD_IA", 60), to("GLACIER", 60)])],
        "InvalidArgument",
        "'Days' in the Transition action for StorageClass 'GLACIER' for filter '(prefix=)' must "
        "be greater than 'Days' in the Transition action for StorageClass 'STANDARD_IA'",
    ),
    (
        "glacier before IA",
        [rule(transitions=[to("GLACIER", 30), to("STANDARD_IA", 31)])],
        "InvalidArgument",
        "StorageClass 'GLACIER'",
    ),
    (
        "onezone before standard_ia",
        [rule(transitions=[to("ONEZONE_IA", 30), to("STANDARD_IA", 40)])],
        "InvalidArgument",
        "StorageClass 'ONEZONE_IA'",
    ),
    (
        "expiration not after transition",
        [rule(transitions=[to("GLACIER", 10)], expiration=expire(10))],
        "InvalidArgument",
        "'Days' in the Expiration action for filter '(prefix=)' must be greater than 'Days' in "
        "the Transition action",
    ),
    (
        "expiration before last transition",
        [rule(transitions=[to("STANDARD_IA", 30), to("GLACIER", 100)], expiration=expire(60))],
        "InvalidArgument",
        "'Days' in the Expiration action",
    ),
    (
        "noncurrent transition without days",
        [
            rule(
                noncurrent_version_transitions=[
                    lc.NoncurrentVersionTransition(storage_class="GLACIER")
                ]
            )
        ],
        "MalformedXML",
        "NoncurrentDays",
    ),
    (
        "negative noncurrent transition days",
        [rule(noncurrent_version_transitions=[nc_to("GLACIER", -1)])],
        "InvalidArgument",
        "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
    ),
    (
        "noncurrent STANDARD_IA before 30 days",
        [rule(noncurrent_version_transitions=[nc_to("STANDARD_IA", 10)])],
        "InvalidArgument",
        "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal "
        "to 30 for storageClass 'STANDARD_IA'",
    ),
    (
        "noncurrent transition to STANDARD",
        [rule(noncurrent_version_transitions=[nc_to("STANDARD", 40)])],
        "InvalidArgument",
        "not a valid target of a NoncurrentVersionTransition",
    ),
    (
        "noncurrent transition to unknown class",
        [rule(noncurrent_version_transitions=[nc_to("GLACIER_IR", 40)])],
        "MalformedXML",
        "GLACIER_IR",
    ),
    (
        "noncurrent transitions to one class",
        [rule(noncurrent_version_transitions=[nc_to("GLACIER", 1), nc_to("GLACIER", 2)])],
        "InvalidRequest",
        "'StorageClass' must be different for 'NoncurrentVersionTransition' actions",
    ),
    (
        "noncurrent overlapping days",
        [rule(noncurrent_version_transitions=[nc_to("ONEZONE_IA", 50), nc_to("GLACIER", 40)])],
        "InvalidArgument",
        "'NoncurrentDays' in the NoncurrentVersionTransition action for StorageClass 'GLACIER'",
    ),
    (
        "zero newer noncurrent versions",
        [rule(noncurrent_version_transitions=[nc_to("GLACIER", 1, newer=0)])],
        "InvalidArgument",
        "NewerNoncurrentVersions must be a positive integer",
    ),
    (
        "noncurrent expiration without days",
        [rule(noncurrent_version_expiration=lc.NoncurrentVersionExpiration())],
        "MalformedXML",
        "NoncurrentDays",
    ),
    (
        "zero noncurrent expiration days",
        [rule(noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=0))],
        "InvalidArgument",
        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    ),
    (
        "noncurrent expiration keeps none",
        [
            rule(
                noncurrent_version_expiration=lc.NoncurrentVersionExpiration(
                    noncurrent_days=1, newer_noncurrent_versions=-3
                )
            )
        ],
        "InvalidArgument",
        "NewerNoncurrentVersions must be a positive integer",
    ),
    (
        "noncurrent expiration not after transition",
        [
            rule(
                filter=TAG_FILTER,
                noncurrent_version_transitions=[nc_to("GLACIER", 5)],
                noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=5),
            )
        ],
        "InvalidArgument",
        "'NoncurrentDays' in the NoncurrentVersionExpiration action for filter "
        "'(tag={key=k, value=v})' must be greater than 'NoncurrentDays' in the "
        "NoncurrentVersionTransition action",
    ),
    (
        "abort without days",
        [rule(abort_incomplete_multipart_upload=lc.AbortIncompleteMultipartUpload())],
        "MalformedXML",
        "DaysAfterInitiation",
    ),
    (
        "abort after zero days",
        [rule(abort_incomplete_multipart_upload=abort(0))],
        "InvalidArgument",
        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive",
    ),
    (
        "abort with tag",
        [rule(filter=TAG_FILTER, abort_incomplete_multipart_upload=abort())],
        "InvalidRequest",
        "AbortIncompleteMultipartUpload cannot be specified with Tags.",
    ),
    (
        "abort with and-tags",
        [
            rule(
                filter_and={"prefix": "p", "tags": [tag("k", "v")]},
                abort_incomplete_multipart_upload=abort(),
            )
        ],
        "InvalidRequest",
        "AbortIncompleteMultipartUpload cannot be specified with Tags.",
    ),
    (
        "abort with size",
        [rule(filter=SIZE_FILTER, abort_incomplete_multipart_upload=abort())],
        "InvalidRequest",
        "AbortIncompleteMultipartUpload cannot be specified with Object Size.",
    ),
]


@pytest.mark.parametrize(
    ("rules", "code", "text"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_configurations_are_refused(
    rules: list[lc.LifecycleRule], code: str, text: str
) -> None:
    err = error(config(*rules))
    assert err.code == code
    assert text in err.message


def test_messages_name_the_rule() -> None:
    named = error(config(rule(id="logs", transitions=[to("STANDARD_IA", 1)])))
    assert "(rule 'logs')" in named.message
    unnamed = error(config(rule(expiration=expire(1)), rule(expiration=expire(0))))
    assert "(rule #2)" in unnamed.message
    duplicate = error(
        config(rule(id="d", expiration=expire(1)), rule(id="d", expiration=expire(2)))
    )
    assert duplicate.details == {"ArgumentName": "ID", "ArgumentValue": "d"}


def test_malformed_messages_keep_s3s_text() -> None:
    err = error(config(rule(status="On", expiration=expire(1))))
    assert err.message.startswith("The XML you provided was not well-formed")
    assert err.http_status == 400


def test_the_first_faulty_rule_is_reported() -> None:
    err = error(config(rule(id="a", expiration=expire(0)), rule(id="b", status="x")))
    assert "(rule 'a')" in err.message


@pytest.mark.parametrize(
    ("r", "text"),
    [
        (rule(), "(prefix=)"),
        (rule(prefix="old/"), "(prefix=old/)"),
        (rule(filter=lc.LifecycleFilter(prefix="a/")), "(prefix=a/)"),
        (rule(filter=TAG_FILTER), "(tag={key=k, value=v})"),
        (rule(filter=SIZE_FILTER), "(objectsizegreaterthan=5)"),
        (
            rule(
                filter_and={
                    "prefix": "test/",
                    "tags": [tag("archive", "true")],
                    "object_size_greater_than": 500,
                    "object_size_less_than": 120120,
                }
            ),
            "(prefix=test/ and tag={key=archive, value=true} and objectsizegreaterthan=500 and "
            "objectsizelessthan=120120)",
        ),
    ],
)
def test_filters_are_described_as_s3_describes_them(r: lc.LifecycleRule, text: str) -> None:
    assert describe_filter(r) == text


# --- validation: the transition waterfall as a property --------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    days=st.dictionaries(st.sampled_from(TARGETS), st.integers(-5, 120), min_size=1),
    expiration=st.none() | st.integers(1, 130),
    noncurrent=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_transition_days_must_fall_down_the_waterfall(
    days: dict[str, int], expiration: int | None, noncurrent: bool, order: Any
) -> None:
    items = list(days.items())
    order.shuffle(items)  # the order of the list never matters
    if noncurrent:
        r = rule(noncurrent_version_transitions=[nc_to(c, d) for c, d in items])
        if expiration is not None:
            r.noncurrent_version_expiration.noncurrent_days = expiration
    else:
        r = rule(transitions=[to(c, d) for c, d in items])
        if expiration is not None:
            r.expiration.days = expiration
    by_depth = [d for _, d in sorted(days.items(), key=lambda kv: DEPTH[kv[0]])]
    ok = (
        all(d >= 0 for d in by_depth)
        and all(d >= 30 for c, d in days.items() if c != "GLACIER")
        and all(a < b for a, b in pairwise(by_depth))
        and (expiration is None or expiration > max(by_depth))
    )
    if ok:
        validate(config(r))
    else:
        assert error(config(r)).code == "InvalidArgument"


# --- evaluation: current versions -------------------------------------------------------------


def test_expiration_after_days() -> None:
    cfg = config(rule(expiration=expire(3)))
    e = entry(version("v1", T0))
    assert plan_entry(cfg, "k", e, at(2.999), DAY) == []
    assert plan_entry(cfg, "k", e, at(3), DAY) == [ExpireCurrent("v1")]


def test_unversioned_object_expires_as_null_version() -> None:
    cfg = config(rule(expiration=expire(1)))
    assert plan_entry(cfg, "k", entry(version("null", T0)), at(5), DAY) == [ExpireCurrent("null")]


def test_disabled_rules_do_nothing() -> None:
    cfg = config(rule(status="Disabled", expiration=expire(1), transitions=[to("GLACIER", 0)]))
    assert plan_entry(cfg, "k", entry(version("v1", T0)), at(100), DAY) == []


def test_prefix_filters() -> None:
    cfg = config(rule(filter=lc.LifecycleFilter(prefix="logs/"), expiration=expire(1)))
    assert plan_entry(cfg, "logs/a", entry(version("v", T0)), at(1), DAY) == [ExpireCurrent("v")]
    assert plan_entry(cfg, "data/a", entry(version("v", T0)), at(1), DAY) == []
    legacy = config(rule(prefix="tmp", expiration=expire(1)))
    assert plan_entry(legacy, "tmp/x", entry(version("v", T0)), at(1), DAY) == [ExpireCurrent("v")]
    assert plan_entry(legacy, "x/tmp", entry(version("v", T0)), at(1), DAY) == []


def test_tag_filter_uses_the_versions_tags() -> None:
    cfg = config(rule(filter=TAG_FILTER, expiration=expire(1)))
    assert plan_entry(cfg, "a", entry(version("v", T0, k="v")), at(1), DAY) == [ExpireCurrent("v")]
    assert plan_entry(cfg, "a", entry(version("v", T0, k="w")), at(1), DAY) == []
    assert plan_entry(cfg, "a", entry(version("v", T0)), at(1), DAY) == []


def test_and_filter_needs_every_predicate() -> None:
    cfg = config(
        rule(
            filter_and={
                "prefix": "p/",
                "tags": [tag("a", "1"), tag("b", "2")],
                "object_size_greater_than": 10,
                "object_size_less_than": 100,
            },
            expiration=expire(1),
        )
    )

    def due(key: str, size: int, **tags: str) -> bool:
        return bool(plan_entry(cfg, key, entry(version("v", T0, size=size, **tags)), at(1), DAY))

    assert due("p/x", 50, a="1", b="2", c="3")
    assert not due("q/x", 50, a="1", b="2")
    assert not due("p/x", 50, a="1")
    assert not due("p/x", 50, a="1", b="x")
    assert not due("p/x", 10, a="1", b="2")  # bounds are strict
    assert not due("p/x", 100, a="1", b="2")


def test_size_filters() -> None:
    bigger = config(
        rule(filter=lc.LifecycleFilter(object_size_greater_than=99), expiration=expire(1))
    )
    smaller = config(
        rule(filter=lc.LifecycleFilter(object_size_less_than=99), expiration=expire(1))
    )
    small, big = entry(version("v", T0, size=5)), entry(version("v", T0, size=500))
    assert plan_entry(bigger, "k", big, at(1), DAY) == [ExpireCurrent("v")]
    assert plan_entry(bigger, "k", small, at(1), DAY) == []
    assert plan_entry(smaller, "k", small, at(1), DAY) == [ExpireCurrent("v")]
    assert plan_entry(smaller, "k", big, at(1), DAY) == []


def test_transitions_follow_the_waterfall() -> None:
    cfg = config(rule(transitions=[to("STANDARD_IA", 30), to("ONEZONE_IA", 60), to("GLACIER", 90)]))
    e = entry(version("v", T0))
    assert plan_entry(cfg, "k", e, at(29), DAY) == []
    assert plan_entry(cfg, "k", e, at(30), DAY) == [Transition("v", "STANDARD_IA")]
    assert plan_entry(cfg, "k", e, at(60), DAY) == [Transition("v", "ONEZONE_IA")]
    assert plan_entry(cfg, "k", e, at(400), DAY) == [Transition("v", "GLACIER")]  # skips ahead


def test_transitions_never_move_up_and_glacier_stays() -> None:
    cfg = config(rule(transitions=[to("STANDARD_IA", 30)]))
    for cls in ("STANDARD_IA", "ONEZONE_IA", "GLACIER"):
        assert plan_entry(cfg, "k", entry(version("v", T0, cls=cls)), at(99), DAY) == []
    rrs = entry(version("v", T0, cls="REDUCED_REDUNDANCY"))
    assert plan_entry(cfg, "k", rrs, at(99), DAY) == [Transition("v", "STANDARD_IA")]
    glacier = config(rule(transitions=[to("GLACIER", 0)]))
    assert plan_entry(glacier, "k", entry(version("v", T0, cls="GLACIER")), at(99), DAY) == []
    assert plan_entry(glacier, "k", entry(version("v", T0)), at(0), DAY) == [
        Transition("v", "GLACIER")
    ]


def test_deepest_class_wins_across_rules_and_expiration_wins_over_all() -> None:
    ia = rule(id="ia", transitions=[to("STANDARD_IA", 30)])
    glacier = rule(id="g", filter=lc.LifecycleFilter(prefix="k"), transitions=[to("GLACIER", 40)])
    gone = rule(id="e", filter=TAG_FILTER, expiration=expire(50))
    cfg = config(ia, glacier, gone)
    tagged = entry(version("v", T0, k="v"))
    assert plan_entry(cfg, "k", tagged, at(35), DAY) == [Transition("v", "STANDARD_IA")]
    assert plan_entry(cfg, "k", tagged, at(45), DAY) == [Transition("v", "GLACIER")]
    assert plan_entry(cfg, "k", tagged, at(50), DAY) == [ExpireCurrent("v")]
    assert plan_entry(cfg, "k", entry(version("v", T0)), at(50), DAY) == [
        Transition("v", "GLACIER")
    ]


def test_age_counts_from_mtime_and_a_future_mtime_is_not_due() -> None:
    cfg = config(rule(expiration=expire(1), transitions=[]))
    assert plan_entry(cfg, "k", entry(version("v", at(10))), at(10.5), DAY) == []
    assert plan_entry(cfg, "k", entry(version("v", at(10))), at(5), DAY) == []


def test_day_length_is_configurable() -> None:
    cfg = config(rule(expiration=expire(2)))
    e = entry(version("v", 0))
    assert plan_entry(cfg, "k", e, 2 * 86_400 * 10**9 - 1, 86_400 * 10**9) == []
    assert plan_entry(cfg, "k", e, 2 * 86_400 * 10**9, 86_400 * 10**9) == [ExpireCurrent("v")]
    assert plan_entry(cfg, "k", e, 2, 1) == [ExpireCurrent("v")]
    with pytest.raises(ValueError):
        plan_entry(cfg, "k", e, 2, 0)


def test_empty_entry_and_empty_config_plan_nothing() -> None:
    assert plan_entry(config(rule(expiration=expire(1))), "k", entry(), at(9), DAY) == []
    assert plan_entry(config(), "k", entry(version("v", T0)), at(9), DAY) == []


# --- evaluation: noncurrent versions and delete markers -------------------------------------


def history(*mtimes_days: float, marker_on_top: bool = False) -> rec.ObjectEntry:
    """Versions newest first, named v<n> with v0 the newest."""
    versions = [version(f"v{i}", at(d)) for i, d in enumerate(mtimes_days)]
    if marker_on_top:
        versions[0].delete_marker = True
        versions[0].size = 0
    return entry(*versions)


def test_noncurrent_time_starts_when_the_next_version_arrived() -> None:
    cfg = config(
        rule(noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=5))
    )
    e = history(20, 10, 0)  # v2 noncurrent since day 10, v1 since day 20
    assert plan_entry(cfg, "k", e, at(14.9), DAY) == []
    assert plan_entry(cfg, "k", e, at(15), DAY) == [RemoveVersion("v2")]
    assert plan_entry(cfg, "k", e, at(25), DAY) == [RemoveVersion("v1"), RemoveVersion("v2")]


def test_noncurrent_expiration_removes_noncurrent_delete_markers_too() -> None:
    cfg = config(
        rule(noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=1))
    )
    e = history(3, 2, 0)
    e.versions[1].delete_marker = True
    assert plan_entry(cfg, "k", e, at(4), DAY) == [RemoveVersion("v1"), RemoveVersion("v2")]


def test_newer_noncurrent_versions_keeps_the_newest() -> None:
    nve = lc.NoncurrentVersionExpiration(noncurrent_days=1, newer_noncurrent_versions=2)
    cfg = config(rule(noncurrent_version_expiration=nve))
    e = history(40, 30, 20, 10, 0)  # noncurrent: v1 (newest) .. v4
    assert plan_entry(cfg, "k", e, at(100), DAY) == [RemoveVersion("v3"), RemoveVersion("v4")]


def test_noncurrent_transitions() -> None:
    cfg = config(
        rule(
            noncurrent_version_transitions=[nc_to("STANDARD_IA", 30), nc_to("GLACIER", 60, newer=1)]
        )
    )
    e = history(100, 50, 0)  # v1 noncurrent since 100, v2 since 50
    assert plan_entry(cfg, "k", e, at(100), DAY) == [Transition("v2", "STANDARD_IA")]
    # v2 is old enough for GLACIER and has one newer noncurrent version; v1 is the kept one
    assert plan_entry(cfg, "k", e, at(200), DAY) == [
        Transition("v1", "STANDARD_IA"),
        Transition("v2", "GLACIER"),
    ]


def test_noncurrent_rules_leave_the_current_version_alone() -> None:
    cfg = config(
        rule(
            noncurrent_version_transitions=[nc_to("GLACIER", 0)],
            noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=1),
        )
    )
    assert plan_entry(cfg, "k", history(0), at(999), DAY) == []


def test_current_rules_leave_noncurrent_versions_alone() -> None:
    cfg = config(rule(expiration=expire(1), transitions=[to("GLACIER", 0)]))
    assert plan_entry(cfg, "k", history(0.5, 0), at(0.75), DAY) == [Transition("v0", "GLACIER")]


def test_noncurrent_expiration_beats_noncurrent_transition() -> None:
    cfg = config(
        rule(noncurrent_version_transitions=[nc_to("GLACIER", 1)]),
        rule(noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=2)),
    )
    assert plan_entry(cfg, "k", history(10, 0), at(11), DAY) == [Transition("v1", "GLACIER")]
    assert plan_entry(cfg, "k", history(10, 0), at(12), DAY) == [RemoveVersion("v1")]


def test_delete_markers_never_transition_nor_expire_as_current() -> None:
    cfg = config(
        rule(
            expiration=expire(1),
            transitions=[to("GLACIER", 0)],
            noncurrent_version_transitions=[nc_to("GLACIER", 0)],
        )
    )
    e = history(10, 5, 0, marker_on_top=True)
    e.versions[1].delete_marker = True
    assert plan_entry(cfg, "k", e, at(50), DAY) == [Transition("v2", "GLACIER")]


def test_expired_object_delete_marker() -> None:
    cfg = config(rule(expiration=EODM))
    alone = history(5, marker_on_top=True)
    assert plan_entry(cfg, "k", alone, at(5), DAY) == [RemoveVersion("v0")]
    not_alone = history(5, 0, marker_on_top=True)
    assert plan_entry(cfg, "k", not_alone, at(50), DAY) == []
    off = config(rule(expiration=lc.LifecycleExpiration(expired_object_delete_marker=False)))
    assert plan_entry(off, "k", alone, at(50), DAY) == []


def test_expiration_days_also_cleans_up_old_lone_markers() -> None:
    cfg = config(rule(expiration=expire(3)))
    alone = history(5, marker_on_top=True)
    assert plan_entry(cfg, "k", alone, at(7), DAY) == []
    assert plan_entry(cfg, "k", alone, at(8), DAY) == [RemoveVersion("v0")]


def test_marker_goes_when_its_last_versions_go_in_the_same_plan() -> None:
    cfg = config(
        rule(
            expiration=EODM,
            noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=1),
        )
    )
    e = history(10, 0, marker_on_top=True)
    assert plan_entry(cfg, "k", e, at(10.5), DAY) == []
    assert plan_entry(cfg, "k", e, at(11), DAY) == [RemoveVersion("v0"), RemoveVersion("v1")]


def test_tagged_rules_do_not_see_delete_markers() -> None:
    cfg = config(
        rule(
            filter=TAG_FILTER,
            expiration=expire(1),
            noncurrent_version_expiration=lc.NoncurrentVersionExpiration(noncurrent_days=1),
        )
    )
    e = history(10, 5, marker_on_top=True)
    e.versions[1].tags["k"] = "v"
    assert plan_entry(cfg, "k", e, at(50), DAY) == [RemoveVersion("v1")]
    lone = history(10, marker_on_top=True)
    assert plan_entry(cfg, "k", lone, at(50), DAY) == []


# --- evaluation: incomplete multipart uploads ---------------------------------------------


def upload(uid: str, key: str, initiated_days: float) -> rec.UploadRecord:
    return rec.UploadRecord(upload_id=uid, key=key, initiated_ns=at(initiated_days))


def test_abort_incomplete_uploads_by_age_and_prefix() -> None:
    cfg = config(
        rule(filter=lc.LifecycleFilter(prefix="tmp/"), abort_incomplete_multipart_upload=abort(2)),
        rule(prefix="x/", abort_incomplete_multipart_upload=abort(5)),
        rule(filter_and={"prefix": "y/", "object_size_less_than": 5}, expiration=expire(1)),
        rule(status="Disabled", abort_incomplete_multipart_upload=abort(1)),
    )
    uploads = [
        upload("u1", "tmp/a", 0),
        upload("u2", "tmp/b", 1),
        upload("u3", "x/c", 0),
        upload("u4", "other", 0),
        upload("u5", "y/d", 0),
    ]
    assert due_uploads(cfg, uploads, at(1.9), DAY) == []
    assert due_uploads(cfg, uploads, at(2), DAY) == ["u1"]
    assert due_uploads(cfg, uploads, at(3), DAY) == ["u1", "u2"]
    assert due_uploads(cfg, uploads, at(5), DAY) == ["u1", "u2", "u3"]


def test_abort_matches_the_and_prefix_and_whole_bucket_rules() -> None:
    cfg = config(rule(abort_incomplete_multipart_upload=abort(1)))
    assert due_uploads(cfg, [upload("u", "anything", 0)], at(1), DAY) == ["u"]
    cfg = config(
        rule(
            filter_and={"prefix": "p/", "object_size_greater_than": 1},
            abort_incomplete_multipart_upload=abort(1),
        )
    )
    assert due_uploads(cfg, [upload("a", "p/1", 0), upload("b", "q/1", 0)], at(1), DAY) == ["a"]


# --- evaluation properties --------------------------------------------------------------------

CLASSES = ["", "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "GLACIER"]
KEYS = st.sampled_from(["a", "a/b", "b", "logs/x"])
TAGS = st.dictionaries(st.sampled_from(["k", "j"]), st.sampled_from(["v", "w"]), max_size=2)
DAYS = st.integers(0, 60)


@st.composite
def filters(draw: st.DrawFn) -> lc.LifecycleFilter:
    kind = draw(st.sampled_from(["none", "prefix", "tag", "gt", "lt", "and"]))
    prefix = draw(st.sampled_from(["", "a", "logs/"]))
    t = tag(draw(st.sampled_from(["k", "j"])), draw(st.sampled_from(["v", "w"])))
    size = draw(st.integers(0, 100))
    if kind == "prefix":
        return lc.LifecycleFilter(prefix=prefix)
    if kind == "tag":
        return lc.LifecycleFilter(tag=t)
    if kind == "gt":
        return lc.LifecycleFilter(object_size_greater_than=size)
    if kind == "lt":
        return lc.LifecycleFilter(object_size_less_than=size)
    if kind == "and":
        return lc.LifecycleFilter(**{"and": lc.LifecycleAnd(prefix=prefix, tags=[t])})
    return lc.LifecycleFilter()


@st.composite
def rules(draw: st.DrawFn, status: st.SearchStrategy[str]) -> lc.LifecycleRule:
    """Rules of every kind, valid or not: planning must hold its promises regardless."""
    r = lc.LifecycleRule(status=draw(status), filter=draw(filters()))
    for cls in draw(st.lists(st.sampled_from(CLASSES), max_size=3)):
        r.transitions.append(to(cls, draw(DAYS)))
    for cls in draw(st.lists(st.sampled_from(CLASSES), max_size=3)):
        newer = draw(st.none() | st.integers(1, 3))
        r.noncurrent_version_transitions.append(nc_to(cls, draw(DAYS), newer))
    if draw(st.booleans()):
        r.expiration.days = draw(DAYS)
    elif draw(st.booleans()):
        r.expiration.expired_object_delete_marker = draw(st.booleans())
    if draw(st.booleans()):
        r.noncurrent_version_expiration.noncurrent_days = draw(DAYS)
        if draw(st.booleans()):
            r.noncurrent_version_expiration.newer_noncurrent_versions = draw(st.integers(1, 3))
    return r


@st.composite
def entries(draw: st.DrawFn) -> rec.ObjectEntry:
    mtimes = sorted(draw(st.lists(st.integers(0, 80), min_size=1, max_size=6)), reverse=True)
    versions = [
        version(
            f"v{i}",
            at(m),
            marker=draw(st.booleans()),
            size=draw(st.integers(0, 120)),
            cls=draw(st.sampled_from(CLASSES)),
            **draw(TAGS),
        )
        for i, m in enumerate(mtimes)
    ]
    return entry(*versions)


ENABLED_OR_NOT = st.sampled_from(["Enabled", "Disabled"])


@settings(max_examples=400, deadline=None)
@given(
    cfg=st.lists(rules(ENABLED_OR_NOT), max_size=4).map(lambda rs: config(*rs)),
    key=KEYS,
    e=entries(),
    now=st.integers(0, 200),
)
def test_plans_keep_their_promises(
    cfg: lc.LifecycleConfiguration, key: str, e: rec.ObjectEntry, now: int
) -> None:
    actions = plan_entry(cfg, key, e, at(now), DAY)
    index = {v.version_id: i for i, v in enumerate(e.versions)}
    assert len({a.version_id for a in actions}) == len(actions)  # one action per version
    for a in actions:
        v = e.versions[index[a.version_id]]
        if isinstance(a, Transition):
            assert not v.delete_marker
            assert a.storage_class in TARGETS
            assert DEPTH[a.storage_class] > DEPTH[v.storage_class]  # only ever down
        elif isinstance(a, ExpireCurrent):
            assert index[a.version_id] == 0 and not v.delete_marker
        else:
            assert index[a.version_id] > 0 or v.delete_marker
    if not any(r.status == "Enabled" for r in cfg.rules):
        assert actions == []


@settings(max_examples=200, deadline=None)
@given(
    cfg=st.lists(rules(st.sampled_from(["Disabled", "", "enabled"])), min_size=1, max_size=4).map(
        lambda rs: config(*rs)
    ),
    key=KEYS,
    e=entries(),
    now=st.integers(0, 500),
)
def test_disabled_rules_never_act(
    cfg: lc.LifecycleConfiguration, key: str, e: rec.ObjectEntry, now: int
) -> None:
    assert plan_entry(cfg, key, e, at(now), DAY) == []
    uploads = [upload("u", key, 0)]
    assert due_uploads(cfg, uploads, at(now), DAY) == []


@settings(max_examples=300, deadline=None)
@given(
    cfg=st.lists(rules(st.just("Enabled")), max_size=4).map(lambda rs: config(*rs)),
    key=KEYS,
    e=entries(),
    now=st.integers(0, 200),
    later=st.integers(0, 200),
)
def test_what_is_due_stays_due(
    cfg: lc.LifecycleConfiguration, key: str, e: rec.ObjectEntry, now: int, later: int
) -> None:
    """Time only deepens a plan: a removal stays, a transition goes no shallower."""
    before = {a.version_id: a for a in plan_entry(cfg, key, e, at(now), DAY)}
    after = {a.version_id: a for a in plan_entry(cfg, key, e, at(now + later), DAY)}
    for vid, a in before.items():
        b = after.get(vid)
        assert b is not None
        if isinstance(a, Transition) and isinstance(b, Transition):
            assert DEPTH[b.storage_class] >= DEPTH[a.storage_class]
        elif not isinstance(a, Transition):
            assert b == a
