"""S3 bucket lifecycle rules: PutBucketLifecycleConfiguration's validation, and which actions
are due for one key's versions or for incomplete multipart uploads at a given time.

Pure and time-explicit (no clock, no I/O): a scanner passes ``now_ns`` and the length of a
day, so tests and compressed-time deployments run a rule's "30 days" in seconds. Messages
follow the ones S3 sends (the filter described as S3 describes it) and name the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from engine.errors import CATALOGUE, EngineError
from engine.v1 import lifecycle_pb2 as lc
from engine.v1 import records_pb2

MAX_RULES = 1000
MAX_ID = 255
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_FILTER_SIZE = 1000 * 2**40  # S3's bound on ObjectSizeGreaterThan / ObjectSizeLessThan
IA_MIN_DAYS = 30  # S3 keeps objects 30 days before STANDARD_IA / ONEZONE_IA

# The waterfall: lifecycle moves a version only to a deeper class, never back up.
DEPTH: dict[str, int] = {
    "": 0,
    "STANDARD": 0,
    "REDUCED_REDUNDANCY": 0,
    "STANDARD_IA": 1,
    "ONEZONE_IA": 2,
    "GLACIER": 3,
}
TARGETS = ("STANDARD_IA", "ONEZONE_IA", "GLACIER")  # the classes a transition may name
_INFREQUENT = frozenset({"STANDARD_IA", "ONEZONE_IA"})
_MALFORMED = CATALOGUE["MalformedXML"][2]
_Noncurrent = lc.NoncurrentVersionTransition | lc.NoncurrentVersionExpiration


@dataclass(frozen=True)
class Transition:
    """Move this version to ``storage_class`` (always deeper than where it is)."""

    version_id: str
    storage_class: str


@dataclass(frozen=True)
class ExpireCurrent:
    """The current version expired: add a delete marker (versioned) or delete it."""

    version_id: str


@dataclass(frozen=True)
class RemoveVersion:
    """Permanently delete a noncurrent version or an expired-object delete marker."""

    version_id: str


Action = Transition | ExpireCurrent | RemoveVersion


# --- validation ------------------------------------------------------------------------------


def validate(config: lc.LifecycleConfiguration) -> None:
    """Refuse what PutBucketLifecycleConfiguration refuses, with S3's code; the first fault
    found wins: the rule count, then IDs, then each rule in order."""
    rules = config.rules
    if not rules:
        raise EngineError("MalformedXML", f"{_MALFORMED}: at least one Rule is required")
    if len(rules) > MAX_RULES:
        raise EngineError(
            "InvalidRequest",
            f"The number of lifecycle rules must not exceed the allowed limit of {MAX_RULES} "
            "rules.",
        )
    seen: set[str] = set()
    for rule in rules:
        if len(rule.id) > MAX_ID:
            raise EngineError(
                "InvalidArgument",
                f"ID length should not exceed allowed limit of {MAX_ID}",
                ArgumentName="ID",
                ArgumentValue=rule.id,
            )
        if rule.id and rule.id in seen:
            raise EngineError(
                "InvalidArgument",
                "Rule ID must be unique. Found same ID for more than one rule",
                ArgumentName="ID",
                ArgumentValue=rule.id,
            )
        seen.add(rule.id)
    for index, rule in enumerate(rules):
        _RuleCheck(rule, index).run()


class _RuleCheck:
    """One rule's checks; holds its name and filter text so every message can carry them."""

    def __init__(self, rule: lc.LifecycleRule, index: int) -> None:
        self.rule = rule
        self.name = f"'{rule.id}'" if rule.id else f"#{index + 1}"
        self.filter = describe_filter(rule)

    def fail(self, code: str, text: str) -> EngineError:
        if code == "MalformedXML":
            text = f"{_MALFORMED}: {text}"
        return EngineError(code, f"{text} (rule {self.name})")

    def run(self) -> None:
        rule = self.rule
        if rule.status not in ("Enabled", "Disabled"):
            raise self.fail(
                "MalformedXML", f"Status must be Enabled or Disabled, not {rule.status!r}"
            )
        if rule.HasField("prefix") and rule.HasField("filter"):
            raise self.fail("MalformedXML", "a rule takes a Filter or a Prefix, not both")
        if rule.HasField("filter"):
            self.check_filter(rule.filter)
        if not (
            rule.HasField("expiration")
            or rule.transitions
            or rule.noncurrent_version_transitions
            or rule.HasField("noncurrent_version_expiration")
            or rule.HasField("abort_incomplete_multipart_upload")
        ):
            raise self.fail("InvalidRequest", "At least one action needs to be specified in a rule")
        self.check_expiration()
        self.check_transitions(noncurrent=False)
        self.check_transitions(noncurrent=True)
        self.check_noncurrent_expiration()
        self.check_abort()
        self.check_expiry_after_transitions()

    # filter

    def check_filter(self, f: lc.LifecycleFilter) -> None:
        fields = ("prefix", "tag", "and", "object_size_greater_than", "object_size_less_than")
        if sum(f.HasField(name) for name in fields) > 1:
            raise self.fail(
                "MalformedXML",
                "a Filter holds one of Prefix, Tag, And, ObjectSizeGreaterThan and "
                "ObjectSizeLessThan; use And to combine them",
            )
        if f.HasField("tag"):
            self.check_tags([f.tag])
        self.check_sizes(f)
        if f.HasField("and"):
            conj: lc.LifecycleAnd = getattr(f, "and")
            count = (
                conj.HasField("prefix")
                + len(conj.tags)
                + conj.HasField("object_size_greater_than")
                + conj.HasField("object_size_less_than")
            )
            if count < 2:
                raise self.fail("MalformedXML", "And needs at least two predicates")
            self.check_tags(conj.tags)
            self.check_sizes(conj)

    def check_tags(self, tags: Sequence[lc.LifecycleTag]) -> None:
        keys: set[str] = set()
        for tag in tags:
            if not tag.key:
                raise self.fail("InvalidTag", "The TagKey you have provided is invalid")
            if len(tag.key) > MAX_TAG_KEY:
                raise self.fail(
                    "InvalidTag", f"The TagKey you have provided is too long, max {MAX_TAG_KEY}"
                )
            if len(tag.value) > MAX_TAG_VALUE:
                raise self.fail(
                    "InvalidTag",
                    f"The TagValue you have provided is too long, max {MAX_TAG_VALUE}",
                )
            if tag.key in keys:
                raise self.fail("InvalidRequest", "Duplicate Tag Keys are not allowed.")
            keys.add(tag.key)

    def check_sizes(self, f: lc.LifecycleFilter | lc.LifecycleAnd) -> None:
        greater = f.HasField("object_size_greater_than")
        less = f.HasField("object_size_less_than")
        if greater and not 0 <= f.object_size_greater_than <= MAX_FILTER_SIZE:
            raise self.fail(
                "InvalidRequest",
                f"'ObjectSizeGreaterThan' should be between 0 and {MAX_FILTER_SIZE}.",
            )
        if less and not 1 <= f.object_size_less_than <= MAX_FILTER_SIZE:
            raise self.fail(
                "InvalidRequest", f"'ObjectSizeLessThan' should be between 1 and {MAX_FILTER_SIZE}."
            )
        if greater and less and f.object_size_less_than <= f.object_size_greater_than:
            raise self.fail(
                "InvalidRequest",
                "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.",
            )

    # actions

    def check_expiration(self) -> None:
        rule = self.rule
        if not rule.HasField("expiration"):
            return
        exp = rule.expiration
        has_days = exp.HasField("days")
        if has_days == exp.HasField("expired_object_delete_marker"):
            raise self.fail(
                "MalformedXML", "Expiration takes exactly one of Days and ExpiredObjectDeleteMarker"
            )
        if has_days and exp.days <= 0:
            raise self.fail(
                "InvalidArgument", "'Days' for Expiration action must be a positive integer"
            )
        if not has_days:
            self.refuse_with_filter("ExpiredObjectDeleteMarker")

    def check_transitions(self, *, noncurrent: bool) -> None:
        """Transition and NoncurrentVersionTransition share S3's rules: a class we have, one
        transition per class, 30 days before an IA class, days increasing down the waterfall."""
        rule = self.rule
        items: Sequence[lc.LifecycleTransition | lc.NoncurrentVersionTransition]
        items, action, field = rule.transitions, "Transition", "Days"
        if noncurrent:
            items = rule.noncurrent_version_transitions
            action, field = "NoncurrentVersionTransition", "NoncurrentDays"
        by_class: dict[str, int] = {}
        for item in items:
            cls = item.storage_class
            if cls in ("STANDARD", "REDUCED_REDUNDANCY"):
                raise self.fail(
                    "InvalidArgument",
                    f"'StorageClass' {cls} is not a valid target of a {action} action; objects "
                    f"transition only to {', '.join(TARGETS)}",
                )
            if cls not in TARGETS:
                raise self.fail("MalformedXML", f"{action} StorageClass {cls!r} is not supported")
            days = _days(item)
            if days is None:
                if noncurrent:
                    raise self.fail("MalformedXML", f"{action} requires NoncurrentDays")
                raise self.fail(
                    "InvalidArgument", "'Transition' action must specify either 'Days' or 'Date'"
                )
            if days < 0:
                raise self.fail(
                    "InvalidArgument", f"'{field}' in {action} action must be nonnegative"
                )
            if cls in _INFREQUENT and days < IA_MIN_DAYS:
                raise self.fail(
                    "InvalidArgument",
                    f"'{field}' in {action} action must be greater than or equal to "
                    f"{IA_MIN_DAYS} for storageClass '{cls}'",
                )
            if noncurrent:
                self.check_newer(item)
            if cls in by_class:
                raise self.fail(
                    "InvalidRequest",
                    f"'StorageClass' must be different for '{action}' actions in same 'Rule' "
                    f"with filter '{self.filter}'",
                )
            by_class[cls] = days
        ordered = sorted(by_class.items(), key=lambda kv: DEPTH[kv[0]])
        for (upper, upper_days), (lower, lower_days) in pairwise(ordered):
            if lower_days <= upper_days:
                raise self.fail(
                    "InvalidArgument",
                    f"'{field}' in the {action} action for StorageClass '{lower}' for filter "
                    f"'{self.filter}' must be greater than '{field}' in the {action} action "
                    f"for StorageClass '{upper}' for filter '{self.filter}'",
                )

    def check_noncurrent_expiration(self) -> None:
        rule = self.rule
        if not rule.HasField("noncurrent_version_expiration"):
            return
        nve = rule.noncurrent_version_expiration
        if not nve.HasField("noncurrent_days"):
            raise self.fail("MalformedXML", "NoncurrentVersionExpiration requires NoncurrentDays")
        if nve.noncurrent_days <= 0:
            raise self.fail(
                "InvalidArgument",
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive "
                "integer",
            )
        self.check_newer(nve)

    def check_expiry_after_transitions(self) -> None:
        """An expiration no later than a transition would make the transition pointless."""
        rule = self.rule
        exp, nve = rule.expiration, rule.noncurrent_version_expiration
        if exp.HasField("days") and any(t.days >= exp.days for t in rule.transitions):
            raise self.fail(
                "InvalidArgument",
                f"'Days' in the Expiration action for filter '{self.filter}' must be greater "
                "than 'Days' in the Transition action",
            )
        noncurrent = rule.noncurrent_version_transitions
        if nve.HasField("noncurrent_days") and any(
            t.noncurrent_days >= nve.noncurrent_days for t in noncurrent
        ):
            raise self.fail(
                "InvalidArgument",
                f"'NoncurrentDays' in the NoncurrentVersionExpiration action for filter "
                f"'{self.filter}' must be greater than 'NoncurrentDays' in the "
                "NoncurrentVersionTransition action",
            )

    def check_newer(self, item: _Noncurrent) -> None:
        if item.HasField("newer_noncurrent_versions") and item.newer_noncurrent_versions <= 0:
            raise self.fail("InvalidArgument", "NewerNoncurrentVersions must be a positive integer")

    def check_abort(self) -> None:
        rule = self.rule
        if not rule.HasField("abort_incomplete_multipart_upload"):
            return
        abort = rule.abort_incomplete_multipart_upload
        if not abort.HasField("days_after_initiation"):
            raise self.fail(
                "MalformedXML", "AbortIncompleteMultipartUpload requires DaysAfterInitiation"
            )
        if abort.days_after_initiation <= 0:
            raise self.fail(
                "InvalidArgument",
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                "positive integer",
            )
        self.refuse_with_filter("AbortIncompleteMultipartUpload")

    def refuse_with_filter(self, action: str) -> None:
        """Delete markers and uploads have neither tags nor a size, so S3 refuses those
        predicates beside the actions that only touch them."""
        f = self.rule.filter
        conj: lc.LifecycleAnd = getattr(f, "and")
        if f.HasField("tag") or conj.tags:
            raise self.fail("InvalidRequest", f"{action} cannot be specified with Tags.")
        sized = ("object_size_greater_than", "object_size_less_than")
        if any(f.HasField(n) or conj.HasField(n) for n in sized):
            raise self.fail("InvalidRequest", f"{action} cannot be specified with Object Size.")


def describe_filter(rule: lc.LifecycleRule) -> str:
    """The filter as S3's messages print it: ``(prefix=logs/ and tag={key=k, value=v})``."""
    if rule.HasField("prefix"):
        return f"(prefix={rule.prefix})"
    f = rule.filter
    both = (f, getattr(f, "and"))
    tags = [*([f.tag] if f.HasField("tag") else []), *both[1].tags]
    parts = [f"prefix={p.prefix}" for p in both if p.HasField("prefix")]
    parts += [f"tag={{key={t.key}, value={t.value}}}" for t in tags]
    parts += [
        f"objectsizegreaterthan={p.object_size_greater_than}"
        for p in both
        if p.HasField("object_size_greater_than")
    ]
    parts += [
        f"objectsizelessthan={p.object_size_less_than}"
        for p in both
        if p.HasField("object_size_less_than")
    ]
    return f"({' and '.join(parts) or 'prefix='})"


def _days(item: lc.LifecycleTransition | lc.NoncurrentVersionTransition) -> int | None:
    if isinstance(item, lc.LifecycleTransition):
        return item.days if item.HasField("days") else None
    return item.noncurrent_days if item.HasField("noncurrent_days") else None


# --- evaluation ------------------------------------------------------------------------------


def plan_entry(
    config: lc.LifecycleConfiguration,
    key: str,
    entry: records_pb2.ObjectEntry,
    now_ns: int,
    day_ns: int,
) -> list[Action]:
    """What the enabled rules make due for `key` at `now_ns`: at most one action per version,
    the current version's first, then noncurrent ones newest first.

    A version counts as noncurrent from the mtime of the next newer version. Expiration beats
    transition, and of due transitions the deepest class wins. A current delete marker is
    removed once it is the only version left, counting noncurrent versions this plan removes,
    so one pass converges where S3 would take two.
    """
    _check_day(day_ns)
    rules = _enabled(config)
    versions = entry.versions
    if not rules or not versions:
        return []
    actions: list[Action] = []
    removed = 0
    for index in range(1, len(versions)):
        since = versions[index - 1].mtime_ns
        action = _plan_noncurrent(rules, key, versions[index], index - 1, now_ns - since, day_ns)
        if action is not None:
            actions.append(action)
            removed += isinstance(action, RemoveVersion)
    current = versions[0]
    age = now_ns - current.mtime_ns
    if current.delete_marker:
        alone = removed == len(versions) - 1
        if alone and _marker_expired(rules, key, age, day_ns):
            actions.insert(0, RemoveVersion(current.version_id))
    else:
        action = _plan_current(rules, key, current, age, day_ns)
        if action is not None:
            actions.insert(0, action)
    return actions


def due_uploads(
    config: lc.LifecycleConfiguration,
    uploads: Iterable[records_pb2.UploadRecord],
    now_ns: int,
    day_ns: int,
) -> list[str]:
    """Upload ids an enabled AbortIncompleteMultipartUpload rule makes due, in input order.
    Uploads have no tags or size yet, so only the rule's prefix selects them."""
    _check_day(day_ns)
    aborts = [
        (rule, rule.abort_incomplete_multipart_upload.days_after_initiation)
        for rule in _enabled(config)
        if rule.abort_incomplete_multipart_upload.HasField("days_after_initiation")
    ]
    return [
        upload.upload_id
        for upload in uploads
        if any(
            _prefix_matches(rule, upload.key) and _due(now_ns - upload.initiated_ns, days, day_ns)
            for rule, days in aborts
        )
    ]


def matches(rule: lc.LifecycleRule, key: str, tags: Mapping[str, str], size: int) -> bool:
    """Whether `rule`'s prefix, tag and size predicates all hold for a version."""
    if not _prefix_matches(rule, key):
        return False
    f = rule.filter
    conj: lc.LifecycleAnd = getattr(f, "and")
    required = [*conj.tags, *([f.tag] if f.HasField("tag") else [])]
    if any(tags.get(t.key) != t.value for t in required):
        return False
    for source in (f, conj):
        if source.HasField("object_size_greater_than") and size <= source.object_size_greater_than:
            return False
        if source.HasField("object_size_less_than") and size >= source.object_size_less_than:
            return False
    return True


def _prefix_matches(rule: lc.LifecycleRule, key: str) -> bool:
    f = rule.filter
    prefixes = (rule, f, getattr(f, "and"))
    return all(key.startswith(p.prefix) for p in prefixes if p.HasField("prefix"))


def _enabled(config: lc.LifecycleConfiguration) -> list[lc.LifecycleRule]:
    return [rule for rule in config.rules if rule.status == "Enabled"]


def _check_day(day_ns: int) -> None:
    if day_ns <= 0:
        raise ValueError(f"day_ns must be positive, not {day_ns}")


def _due(age_ns: int, days: int, day_ns: int) -> bool:
    return age_ns >= days * day_ns


def _kept(action: _Noncurrent, newer: int) -> bool:
    """NewerNoncurrentVersions N keeps the N newest noncurrent versions whatever their age."""
    return action.HasField("newer_noncurrent_versions") and newer < action.newer_noncurrent_versions


def _deepest(version: records_pb2.ObjectVersion, due: Iterable[str]) -> Transition | None:
    """The deepest due class, if it is below where the version already is."""
    here = DEPTH.get(version.storage_class)
    targets = [cls for cls in due if cls in TARGETS]
    if here is None or not targets:
        return None
    best = max(targets, key=DEPTH.__getitem__)
    return Transition(version.version_id, best) if DEPTH[best] > here else None


def _plan_current(
    rules: list[lc.LifecycleRule],
    key: str,
    version: records_pb2.ObjectVersion,
    age: int,
    day_ns: int,
) -> Action | None:
    applying = [r for r in rules if matches(r, key, version.tags, version.size)]
    for rule in applying:
        exp = rule.expiration
        if exp.HasField("days") and _due(age, exp.days, day_ns):
            return ExpireCurrent(version.version_id)
    return _deepest(
        version,
        (
            t.storage_class
            for rule in applying
            for t in rule.transitions
            if t.HasField("days") and _due(age, t.days, day_ns)
        ),
    )


def _plan_noncurrent(
    rules: list[lc.LifecycleRule],
    key: str,
    version: records_pb2.ObjectVersion,
    newer: int,
    age: int,
    day_ns: int,
) -> Action | None:
    applying = [r for r in rules if matches(r, key, version.tags, version.size)]
    for rule in applying:
        nve = rule.noncurrent_version_expiration
        if (
            nve.HasField("noncurrent_days")
            and _due(age, nve.noncurrent_days, day_ns)
            and not _kept(nve, newer)
        ):
            return RemoveVersion(version.version_id)
    if version.delete_marker:
        return None
    return _deepest(
        version,
        (
            t.storage_class
            for rule in applying
            for t in rule.noncurrent_version_transitions
            if t.HasField("noncurrent_days")
            and _due(age, t.noncurrent_days, day_ns)
            and not _kept(t, newer)
        ),
    )


def _marker_expired(rules: list[lc.LifecycleRule], key: str, age: int, day_ns: int) -> bool:
    """A lone delete marker goes under ExpiredObjectDeleteMarker at once, and under an
    Expiration of Days once it is that old (S3 cleans markers up as part of Days)."""
    for rule in rules:
        if not matches(rule, key, {}, 0):
            continue
        exp = rule.expiration
        if exp.expired_object_delete_marker:
            return True
        if exp.HasField("days") and _due(age, exp.days, day_ns):
            return True
    return False
