"""SQS's JSON protocol as botocore's SQS service model defines it: every queues.proto
member has the JSON name the model gives, required members are the model's, error types
name the model's exception shapes, and the JSON<->proto conversion refuses what SQS
refuses. Also which service a request on the AWS port is for."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import pytest
from google.protobuf.descriptor import Descriptor

from engine.api.aws.service import scope_service, service_of
from engine.api.aws.sqs import errors
from engine.api.aws.sqs.convert import to_json, to_proto
from engine.api.aws.sqs.operations import NOT_YET, OPERATIONS, operation_of
from engine.api.aws.sqs.shapes import REQUIRED, members
from engine.errors import EngineError
from engine.v1 import queues_pb2 as pb

MODEL_DIR = Path(botocore.__file__).parent / "data" / "sqs" / "2012-11-05"


def _model() -> dict[str, Any]:
    path = MODEL_DIR / "service-2.json"
    if path.exists():
        return json.loads(path.read_text())
    return json.loads(gzip.decompress((MODEL_DIR / "service-2.json.gz").read_bytes()))


MODEL = _model()
SHAPES = MODEL["shapes"]


def _check(descriptor: Descriptor, shape_name: str, request: bool) -> None:
    shape = SHAPES[shape_name]
    fields = members(descriptor)
    for member, field in fields.items():
        assert member in shape["members"], f"{descriptor.name}.{field.name} -> {member}"
        target = SHAPES[shape["members"][member]["shape"]]
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            inner = field.message_type.fields_by_name["value"].message_type
            if inner is not None:
                _check(inner, target["value"]["shape"], request)
        elif field.is_repeated:
            _check(field.message_type, target["member"]["shape"], request)
        else:
            _check(field.message_type, shape["members"][member]["shape"], request)
    if request:
        assert set(REQUIRED.get(descriptor.name, ())) == set(shape.get("required", [])) - {
            "DataType"}, descriptor.name


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_member_has_the_models_name(name: str) -> None:
    operation = MODEL["operations"][name]
    method = pb.DESCRIPTOR.services_by_name["Queues"].methods_by_name[name]
    _check(method.input_type, operation["input"]["shape"], request=True)
    if "output" in operation:
        _check(method.output_type, operation["output"]["shape"], request=False)


def test_every_sqs_operation_is_served_or_known_to_be_later() -> None:
    assert set(MODEL["operations"]) == set(OPERATIONS) | NOT_YET


def test_error_types_name_the_models_exception_shapes() -> None:
    exceptions = {name for name, shape in SHAPES.items() if shape.get("exception")}
    for code, shape in errors.SHAPES.items():
        if not shape.endswith("Exception"):  # the generic ones have no modeled shape
            assert shape in exceptions, code
    assert errors.type_of("AWS.SimpleQueueService.NonExistentQueue") == \
        "com.amazonaws.sqs#QueueDoesNotExist"
    assert errors.type_of("ReceiptHandleIsInvalid") == "com.amazonaws.sqs#ReceiptHandleIsInvalid"
    assert errors.type_of("AccessDenied") == "com.amazon.coral.service#AccessDeniedException"


def test_an_unexpected_failure_is_internal_error_without_its_text() -> None:
    err = errors.as_sqs_error(RuntimeError("secret internals"), "SendMessage")
    assert (err.code, err.http_status) == ("InternalError", 500)
    assert "secret" not in err.message
    renamed = errors.as_sqs_error(EngineError("InvalidAccessKeyId"), "ListQueues")
    assert (renamed.code, renamed.http_status) == ("InvalidClientTokenId", 403)


def test_request_conversion() -> None:
    message = to_proto({
        "QueueUrl": "http://h/1/q", "MessageBody": "b", "DelaySeconds": 5,
        "MessageAttributes": {"a": {"DataType": "Binary",
                                    "BinaryValue": base64.b64encode(b"\x00").decode()}},
        "Unknown": [1, 2]}, pb.SendMessageRequest)
    assert message.delay_seconds == 5 and message.HasField("delay_seconds")
    assert message.message_attributes["a"].binary_value == b"\x00"
    receive = to_proto({"QueueUrl": "u", "AttributeNames": ["All"]}, pb.ReceiveMessageRequest)
    assert list(receive.attribute_names) == ["All"] and not receive.HasField("wait_time_seconds")


@pytest.mark.parametrize(("document", "code", "text"), [
    ({"QueueUrl": "u"}, "MissingParameter", "parameter MessageBody."),
    ({"QueueUrl": "u", "MessageBody": 7}, "InvalidParameterValue", "must be a string"),
    ({"QueueUrl": "u", "MessageBody": "b", "DelaySeconds": True}, "InvalidParameterValue",
     "must be an integer"),
    ({"QueueUrl": "u", "MessageBody": "b", "DelaySeconds": 2**40}, "InvalidParameterValue",
     "out of range"),
    ({"QueueUrl": "u", "MessageBody": "b", "MessageAttributes": []},
     "InvalidParameterValue", "must be an object"),
    ({"QueueUrl": "u", "MessageBody": "b", "MessageAttributes": {
        "a": {"DataType": "Binary", "BinaryValue": "!!"}}}, "InvalidParameterValue",
     "MessageAttributes.a.BinaryValue is invalid. Reason: must be base64-encoded"),
])
def test_request_refusals(document: dict[str, Any], code: str, text: str) -> None:
    with pytest.raises(EngineError) as exc:
        to_proto(document, pb.SendMessageRequest)
    assert exc.value.code == code and text in exc.value.message


def test_response_conversion_omits_what_is_unset_but_the_required_lists() -> None:
    assert to_json(pb.SendMessageBatchResponse()) == {"Successful": [], "Failed": []}
    assert to_json(pb.ReceiveMessageResponse()) == {}
    assert to_json(pb.ListDeadLetterSourceQueuesResponse()) == {"queueUrls": []}
    failed = pb.BatchResultErrorEntry(id="x", code="C", message="m")
    assert to_json(failed) == {"Id": "x", "SenderFault": False, "Code": "C", "Message": "m"}
    value = pb.MessageAttributeValue(data_type="Binary", binary_value=b"\x01")
    assert to_json(value) == {"DataType": "Binary", "BinaryValue": "AQ=="}


def test_operation_of() -> None:
    assert operation_of("AmazonSQS.SendMessage").method == "send_message"
    assert operation_of("AmazonSQS.ListDeadLetterSourceQueues").rpc == \
        "/engine.v1.Queues/ListDeadLetterSourceQueues"
    for target, code in [("AmazonSQS.Nope", "InvalidAction"), ("Other.SendMessage",
                          "InvalidAction"), (None, "MissingAction")]:
        with pytest.raises(EngineError) as exc:
            operation_of(target)
        assert exc.value.code == code


def test_service_of_a_request() -> None:
    sqs_scope = ("AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/sqs/aws4_request, "
                 "SignedHeaders=host, Signature=00")
    assert service_of({"x-amz-target": "AmazonSQS.SendMessage"}) == "sqs"
    assert service_of({"x-amz-target": "DynamoDB_20120810.GetItem"}) is None
    assert service_of({"authorization": sqs_scope}) == "sqs"
    assert service_of({"authorization": sqs_scope.replace("/sqs/", "/s3/")}) is None
    assert service_of({"authorization": "AWS AKIA:sig"}) is None  # SigV2: S3's
    assert service_of({}) is None
    assert scope_service("Credential=A/d/r/iam/aws4_request") == "iam"
    assert scope_service("Credential=garbage") is None
