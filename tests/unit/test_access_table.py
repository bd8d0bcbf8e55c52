"""The access table: every public RPC is authorized as the AWS action it is, on the ARN
it touches, with the condition keys a policy tests; the table cannot drift from the
protos, and docs/iam-actions.md is what the generator prints."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from google.protobuf import message_factory

from engine.api.access_table import RULES, STREAMING_FIRST, Access, Target, accesses, markdown
from engine.errors import EngineError
from engine.iam import actions
from engine.queues.move_tasks import encode_handle
from engine.v1 import cache_pb2, iam_pb2, objects_pb2, queues_pb2

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = {"Node", "CacheNode", "QueueNode", "PubSubNode"}  # node to node, not the public API
TARGET = Target(account="123456789012", region="us-east-2")
OS = "/engine.v1.ObjectStore/"


def proto_services() -> dict[str, str]:
    """service name -> proto file stem, read from the contract itself."""
    found = {}
    for path in sorted((ROOT / "proto" / "engine" / "v1").glob("*.proto")):
        for name in re.findall(r"^service\s+(\w+)", path.read_text(), re.MULTILINE):
            found[name] = path.stem
    return found


def public_methods() -> dict[str, object]:
    """gRPC path -> method descriptor of every public RPC, from the generated stubs."""
    methods = {}
    for service, stem in proto_services().items():
        if service in INTERNAL:
            continue
        try:
            module = importlib.import_module(f"engine.v1.{stem}_pb2")
        except ImportError:
            pytest.fail(f"proto/engine/v1/{stem}.proto has no generated stubs: run `make stubs`")
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            methods[f"/{method.containing_service.full_name}/{method.name}"] = method
    return methods


def one(method: str, request: object) -> Access:
    [access] = accesses(method, request, TARGET)
    return access


# -- the table cannot drift --------------------------------------------------------------

def test_every_public_rpc_has_a_rule_and_every_rule_an_rpc():
    methods = set(public_methods())
    assert methods - set(RULES) == set(), "RPCs without a rule"
    assert set(RULES) - methods == set(), "rules for RPCs that do not exist"


def test_public_services_are_the_known_eight():
    public = {name for name in proto_services() if name not in INTERNAL}
    assert public == {"ObjectStore", "Queues", "Cache", "Admin", "Echo", "Iam", "Sts",
                      "ElastiCache"}


def test_each_service_is_signed_with_its_sigv4_service():
    expected = {"ObjectStore": "s3", "Queues": "sqs", "Cache": "elasticache", "Iam": "iam",
                "Sts": "sts", "Admin": "engine", "Echo": "engine", "ElastiCache": "elasticache"}
    signed = {path: rule.service for path, rule in RULES.items()}
    for path, service in signed.items():
        assert service == expected[path.split("/")[1].removeprefix("engine.v1.")], path


def test_streaming_first_is_every_client_streaming_rpc():
    streaming = {path for path, m in public_methods().items() if m.client_streaming}
    assert STREAMING_FIRST == streaming == {
        OS + "PutObject", OS + "UploadPart", "/engine.v1.Echo/Upload"}


def test_an_empty_request_never_passes_unchecked():
    """[] means "needs no permission": only STS's self-authorizing calls may get it, so an
    empty batch (no keys, no objects) must still demand something or fail outright."""
    for path, method in public_methods().items():
        request = message_factory.GetMessageClass(method.input_type)()
        try:
            needed = accesses(path, request, TARGET)
        except EngineError:
            continue  # malformed (no QueueUrl): refused, not waved through
        assert needed or path == "/engine.v1.Sts/Call", path


def test_unknown_method_has_no_rule():
    with pytest.raises(KeyError):
        accesses("/engine.v1.Node/ReadShard", objects_pb2.GetObjectRequest(), TARGET)


# -- S3 ----------------------------------------------------------------------------------

def test_get_object_is_get_object_on_the_key_as_is():
    request = objects_pb2.GetObjectRequest(bucket="photos", key="2024/a b/é.jpg")
    assert one(OS + "GetObject", request) == Access(
        "s3:GetObject", "arn:aws:s3:::photos/2024/a b/é.jpg", {}, bucket="photos")
    assert one(OS + "HeadObject", objects_pb2.HeadObjectRequest(
        bucket="photos", key="2024/a b/é.jpg")).action == "s3:GetObject"


def test_get_object_with_a_version_id_is_get_object_version():
    version = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
    request = objects_pb2.GetObjectRequest(bucket="photos", key="cat.jpg", version_id=version)
    assert one(OS + "GetObject", request) == Access(
        "s3:GetObjectVersion", "arn:aws:s3:::photos/cat.jpg", {"s3:versionid": version},
        bucket="photos")


def test_copy_object_reads_the_source_and_writes_the_destination():
    request = objects_pb2.CopyObjectRequest(
        source_bucket="src", source_key="public/a.txt", source_version_id="v1",
        bucket="dst", key="copies/a.txt", metadata_directive="REPLACE",
        storage_class="STANDARD_IA", tagging_directive="REPLACE", tagging="team=blue")
    assert accesses(OS + "CopyObject", request, TARGET) == [
        Access("s3:GetObjectVersion", "arn:aws:s3:::src/public/a.txt", {"s3:versionid": "v1"},
               bucket="src"),
        Access("s3:PutObject", "arn:aws:s3:::dst/copies/a.txt", {
            "s3:x-amz-copy-source": "src/public/a.txt?versionId=v1",
            "s3:x-amz-metadata-directive": "REPLACE",
            "s3:x-amz-storage-class": "STANDARD_IA",
            "s3:RequestObjectTag/team": "blue",
            "s3:RequestObjectTagKeys": ["team"],
        }, bucket="dst"),
    ]


def test_copy_object_with_copied_tags_requests_no_tags():
    request = objects_pb2.CopyObjectRequest(
        source_bucket="src", source_key="a", bucket="dst", key="b", tagging="team=blue")
    [source, destination] = accesses(OS + "CopyObject", request, TARGET)
    assert source.action == "s3:GetObject" and source.keys == {}
    assert destination.keys == {"s3:x-amz-copy-source": "src/a"}


def test_delete_objects_needs_one_permission_per_key_in_order():
    request = objects_pb2.DeleteObjectsRequest(bucket="logs", objects=[
        objects_pb2.ObjectIdentifier(key="a"),
        objects_pb2.ObjectIdentifier(key="b", version_id="v2"),
        objects_pb2.ObjectIdentifier(key="a"),
    ])
    assert accesses(OS + "DeleteObjects", request, TARGET) == [
        Access("s3:DeleteObject", "arn:aws:s3:::logs/a", {}, bucket="logs"),
        Access("s3:DeleteObjectVersion", "arn:aws:s3:::logs/b", {"s3:versionid": "v2"},
               bucket="logs"),
        Access("s3:DeleteObject", "arn:aws:s3:::logs/a", {}, bucket="logs"),
    ]


def test_an_empty_delete_objects_needs_delete_on_the_whole_bucket():
    request = objects_pb2.DeleteObjectsRequest(bucket="logs")
    assert one(OS + "DeleteObjects", request).resource == "arn:aws:s3:::logs/*"


def test_list_objects_carries_prefix_delimiter_and_max_keys_as_strings():
    request = objects_pb2.ListObjectsV2Request(bucket="corp", prefix="home/alice/",
                                               delimiter="/", max_keys=100)
    assert one(OS + "ListObjectsV2", request) == Access(
        "s3:ListBucket", "arn:aws:s3:::corp",
        {"s3:prefix": "home/alice/", "s3:delimiter": "/", "s3:max-keys": "100"},
        bucket="corp")


def test_list_objects_top_level_has_an_empty_prefix_and_no_max_keys():
    """AWS's home-folder policy allows the top level with "s3:prefix": [""]."""
    keys = one(OS + "ListObjectsV2", objects_pb2.ListObjectsV2Request(bucket="corp")).keys
    assert keys == {"s3:prefix": "", "s3:delimiter": ""}
    zero = objects_pb2.ListObjectsV2Request(bucket="corp", max_keys=0)
    assert one(OS + "ListObjectsV2", zero).keys["s3:max-keys"] == "0"


def test_list_object_versions_is_list_bucket_versions():
    request = objects_pb2.ListObjectVersionsRequest(bucket="corp", prefix="x/")
    assert one(OS + "ListObjectVersions", request).action == "s3:ListBucketVersions"


def test_list_buckets_is_list_all_my_buckets_on_anything():
    assert accesses(OS + "ListBuckets", objects_pb2.ListBucketsRequest(), TARGET) == [
        Access("s3:ListAllMyBuckets", "*")]


def test_put_object_is_authorized_on_its_header_with_its_tags():
    header = objects_pb2.PutObjectHeader(bucket="b", key="k", storage_class="GLACIER",
                                         tagging="Project=Blue&Classification=Secret")
    access = one(OS + "PutObject", objects_pb2.PutObjectRequest(header=header))
    assert access == Access("s3:PutObject", "arn:aws:s3:::b/k", {
        "s3:RequestObjectTag/Project": "Blue", "s3:RequestObjectTag/Classification": "Secret",
        "s3:RequestObjectTagKeys": ["Project", "Classification"],
        "s3:x-amz-storage-class": "GLACIER"}, bucket="b")


def test_put_object_with_malformed_tagging_fails_as_the_write_would():
    header = objects_pb2.PutObjectHeader(bucket="b", key="k", tagging="a=1&a=2")
    with pytest.raises(EngineError) as err:
        accesses(OS + "PutObject", objects_pb2.PutObjectRequest(header=header), TARGET)
    assert err.value.code == "InvalidArgument"


@pytest.mark.parametrize(("method", "request_", "action"), [
    ("HeadBucket", objects_pb2.HeadBucketRequest(bucket="b"), "s3:ListBucket"),
    ("DeleteBucketLifecycle", objects_pb2.DeleteBucketLifecycleRequest(bucket="b"),
     "s3:PutLifecycleConfiguration"),
    ("UploadPart", objects_pb2.UploadPartRequest(
        header=objects_pb2.UploadPartHeader(bucket="b", key="k")), "s3:PutObject"),
    ("CompleteMultipartUpload", objects_pb2.CompleteMultipartUploadRequest(bucket="b", key="k"),
     "s3:PutObject"),
    ("ListParts", objects_pb2.ListPartsRequest(bucket="b", key="k"),
     "s3:ListMultipartUploadParts"),
    ("ListMultipartUploads", objects_pb2.ListMultipartUploadsRequest(bucket="b"),
     "s3:ListBucketMultipartUploads"),
    ("PutObjectTagging", objects_pb2.PutObjectTaggingRequest(bucket="b", key="k",
                                                             version_id="v"),
     "s3:PutObjectVersionTagging"),
    ("DeleteObjectTagging", objects_pb2.DeleteObjectTaggingRequest(bucket="b", key="k"),
     "s3:DeleteObjectTagging"),
    ("RestoreObject", objects_pb2.RestoreObjectRequest(bucket="b", key="k", version_id="v"),
     "s3:RestoreObject"),
])
def test_s3_operations_whose_action_is_not_their_name(method, request_, action):
    assert one(OS + method, request_).action == action


def test_upload_part_copy_reads_the_source_and_writes_the_upload():
    request = objects_pb2.UploadPartCopyRequest(bucket="b", key="big", source_bucket="s",
                                                source_key="part")
    assert [(a.action, a.resource) for a in accesses(OS + "UploadPartCopy", request, TARGET)
            ] == [("s3:GetObject", "arn:aws:s3:::s/part"), ("s3:PutObject", "arn:aws:s3:::b/big")]


def s3_samples() -> list[tuple[str, Access]]:
    """Every ObjectStore method with its request fields filled in."""
    out = []
    for path, method in public_methods().items():
        if not path.startswith(OS):
            continue
        cls = message_factory.GetMessageClass(method.input_type)
        fields = {f.name for f in method.input_type.fields}
        values = {"bucket": "b", "key": "k", "source_bucket": "s", "source_key": "sk"}
        request = cls(**{k: v for k, v in values.items() if k in fields})
        if "header" in fields:
            request.header.bucket, request.header.key = "b", "k"
        if "objects" in fields:
            request.objects.add(key="k")
        out += [(path, access) for access in accesses(path, request, TARGET)]
    return out


def test_every_s3_access_is_a_known_action_on_its_resource_type_with_its_bucket():
    for path, access in s3_samples():
        assert actions.canonical_action(access.action) == access.action, path
        kind = actions.s3_resource_type(access.action)
        if kind == "other":
            assert (access.resource, access.bucket) == ("*", None), path
            continue
        expected = {"b", "s"} if kind == "bucket" else {"b/k", "s/sk"}
        assert access.resource.removeprefix("arn:aws:s3:::") in expected, path
        assert access.bucket == access.resource.removeprefix("arn:aws:s3:::").split("/")[0]
        for key in access.keys:
            assert actions.supports_condition_key(access.action, key), (path, key)


# -- SQS ---------------------------------------------------------------------------------

QS = "/engine.v1.Queues/"


def test_send_message_batch_by_url_is_send_message_on_the_queue_arn():
    request = queues_pb2.SendMessageBatchRequest(
        queue_url="https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue")
    assert accesses(QS + "SendMessageBatch", request, TARGET) == [
        Access("sqs:SendMessage", "arn:aws:sqs:us-east-2:123456789012:MyQueue", {},
               queue="MyQueue")]


@pytest.mark.parametrize(("method", "action"), [
    ("DeleteMessageBatch", "sqs:DeleteMessage"),
    ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
    ("ReceiveMessage", "sqs:ReceiveMessage"), ("PurgeQueue", "sqs:PurgeQueue"),
])
def test_sqs_operations_by_url(method, action):
    cls = getattr(queues_pb2, f"{method}Request")
    access = one(QS + method, cls(queue_url="http://localhost:9324/000000000000/jobs.fifo"))
    assert (access.action, access.resource, access.queue) == (
        action, "arn:aws:sqs:us-east-2:123456789012:jobs.fifo", "jobs.fifo")


def test_a_malformed_queue_url_fails_as_the_operation_would():
    with pytest.raises(EngineError) as err:
        accesses(QS + "SendMessage", queues_pb2.SendMessageRequest(queue_url="jobs"), TARGET)
    assert err.value.code == "InvalidAddress"


def test_create_queue_is_on_the_new_queue_with_its_request_tags():
    request = queues_pb2.CreateQueueRequest(queue_name="orders", tags={"env": "prod"})
    assert one(QS + "CreateQueue", request) == Access(
        "sqs:CreateQueue", "arn:aws:sqs:us-east-2:123456789012:orders",
        {"aws:RequestTag/env": "prod", "aws:TagKeys": ["env"]}, queue="orders")


def test_list_queues_is_on_anything_and_names_no_queue():
    assert accesses(QS + "ListQueues", queues_pb2.ListQueuesRequest(), TARGET) == [
        Access("sqs:ListQueues", "*")]


def test_every_sqs_access_is_a_known_action_on_its_queue():
    for path, method in public_methods().items():
        if not path.startswith(QS):
            continue
        fields = {f.name for f in method.input_type.fields}
        arn = "arn:aws:sqs:us-east-2:123456789012:q"
        values = {"queue_url": "http://h/123456789012/q", "queue_name": "q",
                  "source_arn": arn, "task_handle": encode_handle("t", arn)}
        cls = message_factory.GetMessageClass(method.input_type)
        [access] = accesses(path, cls(**{k: v for k, v in values.items() if k in fields}),
                            TARGET)
        assert actions.canonical_action(access.action) == access.action, path
        if access.action != "sqs:ListQueues":
            assert access.queue == "q", path
            assert access.resource == "arn:aws:sqs:us-east-2:123456789012:q", path
        for key in access.keys:
            assert actions.supports_condition_key(access.action, key), (path, key)


# -- cache, admin ------------------------------------------------------------------------

CS = "/engine.v1.Cache/"


def test_mset_needs_write_on_every_key_and_non_utf8_keys_stay_text():
    request = cache_pb2.CacheMSetRequest(entries=[
        cache_pb2.CacheEntry(key=b"user:1", value=b"x"),
        cache_pb2.CacheEntry(key=b"raw\xff", value=b"y")])
    assert accesses(CS + "MSet", request, TARGET) == [
        Access("elasticache:WriteKeys", "arn:aws:elasticache:us-east-2:123456789012:key/user:1"),
        Access("elasticache:WriteKeys", "arn:aws:elasticache:us-east-2:123456789012:key/raw\\xff"),
    ]


def test_mget_needs_read_on_every_key_and_an_empty_one_on_all_keys():
    request = cache_pb2.CacheKeysRequest(keys=[b"a", b"b"])
    assert [a.action for a in accesses(CS + "MGet", request, TARGET)] == [
        "elasticache:ReadKeys"] * 2
    empty = one(CS + "MGet", cache_pb2.CacheKeysRequest())
    assert empty.resource == "arn:aws:elasticache:us-east-2:123456789012:key/*"


def test_flush_all_is_its_own_admin_level_action():
    assert accesses(CS + "FlushAll", cache_pb2.CacheFlushAllRequest(), TARGET) == [
        Access("elasticache:FlushAll", "*")]


def test_writes_are_write_keys_and_reads_read_keys():
    for method in ("Set", "IncrBy", "Expire", "Delete", "MSet"):
        assert "`elasticache:WriteKeys`" in RULES[CS + method].doc, method
    for method in ("Get", "Exists", "MGet", "Ttl"):
        assert "`elasticache:ReadKeys`" in RULES[CS + method].doc, method


def test_the_engines_own_actions_are_in_the_catalogue():
    for action in ("elasticache:ReadKeys", "elasticache:WriteKeys", "elasticache:FlushAll",
                   "elasticache:DescribeCache", "engine:Status", "engine:Heal",
                   "engine:AdvanceClock", "engine:Echo"):
        assert actions.canonical_action(action) == action, action


# -- IAM, STS ----------------------------------------------------------------------------

def aws_call(service: str, action: str, params: str = "{}") -> list[Access]:
    return accesses(f"/engine.v1.{service}/Call",
                    iam_pb2.AwsCall(action=action, params_json=params), TARGET)


def test_create_user_is_on_the_user_arn_with_its_path():
    params = '{"UserName": "JaneDoe", "Path": "/division_abc/subdivision_xyz/"}'
    assert aws_call("Iam", "CreateUser", params) == [Access(
        "iam:CreateUser", "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/JaneDoe")]


@pytest.mark.parametrize(("action", "params", "resource"), [
    ("AddUserToGroup", '{"GroupName": "Admins", "UserName": "bob"}', "group/Admins"),
    ("PutRolePolicy", '{"RoleName": "ops", "PolicyName": "p"}', "role/ops"),
    ("CreatePolicy", '{"PolicyName": "read", "Path": "/team/"}', "policy/team/read"),
    ("GetPolicy", '{"PolicyArn": "arn:aws:iam::123456789012:policy/read"}', "policy/read"),
    ("ListUsers", "{}", None),
    ("CreateAccessKey", "{}", None),   # the caller's own user: not known to the table
    ("GetUser", "not json", None),
])
def test_iam_actions_are_on_the_entity_they_name(action, params, resource):
    [access] = aws_call("Iam", action, params)
    assert access.action == f"iam:{action}"
    assert access.resource == (f"arn:aws:iam::123456789012:{resource}" if resource else "*")


def test_attach_user_policy_is_on_the_user_with_the_policy_arn_key():
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    [access] = aws_call("Iam", "AttachUserPolicy", f'{{"UserName": "bob", "PolicyArn": "{arn}"}}')
    assert access == Access("iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/bob",
                            {"iam:PolicyARN": arn})


@pytest.mark.parametrize("action", ["GetCallerIdentity", "GetSessionToken", "AssumeRole"])
def test_sts_calls_that_need_no_identity_permission(action):
    assert aws_call("Sts", action) == []


def test_other_sts_calls_need_their_action():
    assert aws_call("Sts", "GetFederationToken") == [Access("sts:GetFederationToken", "*")]


# -- the generated doc -------------------------------------------------------------------

def test_the_doc_is_what_the_generator_prints():
    doc = (ROOT / "docs" / "iam-actions.md").read_text()
    assert doc == markdown(), "run: python -m engine.api.access_table > docs/iam-actions.md"


def test_the_doc_lists_every_method():
    doc = markdown()
    for path in RULES:
        assert f"| `{path.rsplit('/', 1)[1]}` |" in doc, path


# -- S3 access control -------------------------------------------------------------------

def test_a_write_that_sets_an_acl_also_needs_put_object_acl():
    header = objects_pb2.PutObjectHeader(bucket="site", key="index.html",
                                         acl=objects_pb2.AclSpec(canned="public-read"))
    assert accesses(OS + "PutObject", objects_pb2.PutObjectRequest(header=header), TARGET) == [
        Access("s3:PutObject", "arn:aws:s3:::site/index.html", {"s3:x-amz-acl": "public-read"},
               bucket="site"),
        Access("s3:PutObjectAcl", "arn:aws:s3:::site/index.html",
               {"s3:x-amz-acl": "public-read"}, bucket="site")]
    plain = objects_pb2.PutObjectHeader(bucket="site", key="index.html")
    assert len(accesses(OS + "PutObject", objects_pb2.PutObjectRequest(header=plain),
                        TARGET)) == 1
    grants = objects_pb2.CreateMultipartUploadRequest(
        bucket="site", key="big", acl=objects_pb2.AclSpec(grant_read='uri="x"'))
    assert [a.action for a in accesses(OS + "CreateMultipartUpload", grants, TARGET)] == [
        "s3:PutObject", "s3:PutObjectAcl"]
    assert accesses(OS + "CreateMultipartUpload", grants, TARGET)[0].keys == {
        "s3:x-amz-grant-read": 'uri="x"'}


def test_create_bucket_with_an_acl_or_ownership_needs_those_permissions_too():
    request = objects_pb2.CreateBucketRequest(
        bucket="site", object_ownership="ObjectWriter",
        acl=objects_pb2.AclSpec(canned="private"))
    found = accesses(OS + "CreateBucket", request, TARGET)
    assert [(a.action, a.resource) for a in found] == [
        ("s3:CreateBucket", "arn:aws:s3:::site"), ("s3:PutBucketAcl", "arn:aws:s3:::site"),
        ("s3:PutBucketOwnershipControls", "arn:aws:s3:::site")]
    assert found[0].keys == {"s3:x-amz-acl": "private",
                             "s3:x-amz-object-ownership": "ObjectWriter"}


def test_access_control_methods_are_their_s3_actions():
    version = objects_pb2.PutObjectAclRequest(bucket="b", key="k", version_id="v1",
                                              acl=objects_pb2.AclSpec(canned="private"))
    assert one(OS + "PutObjectAcl", version) == Access(
        "s3:PutObjectVersionAcl", "arn:aws:s3:::b/k",
        {"s3:x-amz-acl": "private", "s3:versionid": "v1"}, bucket="b")
    for method, action in [("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
                           ("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
                           ("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus")]:
        request = objects_pb2.DeleteBucketPolicyRequest(bucket="b")  # any {bucket} message
        assert accesses(OS + method, request, TARGET)[0].action == action
    account = one(OS + "DeleteAccountPublicAccessBlock",
                  objects_pb2.DeleteAccountPublicAccessBlockRequest(account_id="1"))
    assert account == Access("s3:PutAccountPublicAccessBlock", "*")
    for access in (one(OS + "GetBucketAcl", objects_pb2.GetBucketAclRequest(bucket="b")),
                   account):
        assert actions.canonical_action(access.action) == access.action
