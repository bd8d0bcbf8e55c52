"""IAM's and STS's query protocol against botocore's own models, serializer and parser:
the tables of engine/api/aws/iam/shapes.py name every non-string input member, output
map and policy document of every action served; a form botocore writes for any input
reads back as the very members it was given; and the XML written for any output (and
for an error) is what botocore's parser turns back into those members."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore import parsers, serialize
from botocore.handlers import json_decode_policies
from botocore.model import OperationModel, Shape

from engine.api.aws.iam.errors import authentication_error
from engine.api.aws.iam.shapes import IAM, STS, QueryApi
from engine.api.aws.query_form import FormModel, fields, members, tree
from engine.api.aws.query_xml import error_document, result_document
from engine.api.aws.service import UNSIGNED_QUERY, service_of
from engine.errors import EngineError

SESSION = botocore.session.get_session()
MODELS = {api.service: SESSION.get_service_model(api.service) for api in (IAM, STS)}
CASES = [(api, action) for api in (IAM, STS) for action in sorted(api.actions)]
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",' \
         '"Resource":"arn:aws:s3:::a b/*"}]}'
WHEN = "2026-01-02T03:04:05Z"


def _operation(api: QueryApi, action: str) -> OperationModel:
    return MODELS[api.service].operation_model(action)


def _walk(shape: Shape | None, seen: dict[str, set[str]], depth: int = 0) -> None:
    """member name -> the kinds it has anywhere below: type names, "policy" for policy
    documents, "structure-list" for lists of structures."""
    if shape is None or depth > 8:
        return
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            kind = "policy" if member.name == "policyDocumentType" else member.type_name
            if kind == "list" and member.member.type_name == "structure":
                kind = "structure-list"
            seen.setdefault(name, set()).add(kind)
            _walk(member, seen, depth + 1)
    elif shape.type_name == "list":
        _walk(shape.member, seen, depth + 1)
    elif shape.type_name == "map":
        _walk(shape.value, seen, depth + 1)


def _typed(api: QueryApi, *, output: bool) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for action in api.actions:
        operation = _operation(api, action)
        _walk(operation.output_shape if output else operation.input_shape, seen)
    return seen


@pytest.mark.parametrize("api", [IAM, STS], ids=lambda api: api.service)
def test_every_non_string_input_member_is_in_the_table(api: QueryApi) -> None:
    form = api.form
    for name, kinds in _typed(api, output=False).items():
        kind = next(iter(kinds - {"policy"}), "string")
        assert len(kinds - {"policy"}) <= 1, (name, kinds)  # one name, one kind
        assert kind in ("string", "integer", "long", "boolean", "list", "structure-list",
                        "structure"), (name, kind)
        assert (name in form.integers) == (kind in ("integer", "long")), name
        assert (name in form.booleans) == (kind == "boolean"), name
        assert (name in form.lists) == (kind == "list"), name
        assert (name in form.structure_lists) == (kind == "structure-list"), name
        assert (name in form.structures) == (kind == "structure"), name
    assert not form.maps


@pytest.mark.parametrize("api", [IAM, STS], ids=lambda api: api.service)
def test_output_maps_and_policy_documents_are_in_the_table(api: QueryApi) -> None:
    seen = _typed(api, output=True)
    assert {n for n, kinds in seen.items() if "map" in kinds} == api.maps
    assert {n for n, kinds in seen.items() if "policy" in kinds} == set(api.transforms)
    assert all(len(kinds) == 1 for name, kinds in seen.items() if name in api.maps)
    empty = {action for action in api.actions
             if (shape := _operation(api, action).output_shape) is not None
             and not shape.members}
    assert empty == api.empty_results


def _sample(shape: Shape, name: str, depth: int = 0, *, output: bool = False) -> Any:
    """A value for every member, with the characters a form or XML must escape."""
    kind = shape.type_name
    if shape.name == "policyDocumentType":
        return POLICY
    if kind == "structure":
        chosen = list(shape.members.items())[:1] if shape.is_tagged_union else \
            shape.members.items()
        return {m: _sample(s, m, depth + 1, output=output) for m, s in chosen if depth < 5}
    if kind == "list":
        return [_sample(shape.member, name, depth + 1, output=output) for _ in range(2)]
    if kind == "map":
        return {"k1": _sample(shape.value, name, depth + 1, output=output)}
    if kind in ("integer", "long"):
        return max(7, shape.metadata.get("min", 0))
    if kind == "boolean":
        return depth % 2 == 0
    if kind == "timestamp":
        return WHEN if output else dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    text = f"{name} & <x> = +1/ü"
    return text.ljust(shape.metadata.get("min", 0), "x")


def _parsed(api: QueryApi, action: str, body: dict[str, str]) -> dict[str, Any]:
    flat = dict(body)
    assert (flat.pop("Action"), flat.pop("Version")) == (action, api.version)
    return members(tree(fields(urlencode(flat))), api.form)


@pytest.mark.parametrize(("api", "action"), CASES, ids=[f"{a.service}-{n}" for a, n in CASES])
def test_a_form_botocore_writes_reads_back_as_its_members(api: QueryApi, action: str) -> None:
    operation = _operation(api, action)
    params = _sample(operation.input_shape, action) if operation.input_shape else {}
    request = serialize.create_serializer("query").serialize_to_request(params, operation)
    assert _parsed(api, action, request["body"]) == params


def test_an_empty_list_reads_back_empty() -> None:
    operation = _operation(IAM, "CreateUser")
    request = serialize.create_serializer("query").serialize_to_request(
        {"UserName": "a", "Tags": []}, operation)
    assert request["body"]["Tags"] == ""
    assert _parsed(IAM, "CreateUser", request["body"]) == {"UserName": "a", "Tags": []}


def _datetimes(value: Any) -> Any:
    """What botocore makes of ``value`` (timestamps as datetimes, policies as dicts)."""
    if isinstance(value, dict):
        return {k: _datetimes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_datetimes(v) for v in value]
    if value == WHEN:
        return dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    if value == POLICY:
        return json.loads(POLICY)
    return value


@pytest.mark.parametrize(("api", "action"), CASES, ids=[f"{a.service}-{n}" for a, n in CASES])
def test_botocore_reads_the_xml_back_as_the_result(api: QueryApi, action: str) -> None:
    operation = _operation(api, action)
    result = _sample(operation.output_shape, action, output=True) \
        if operation.output_shape else {}
    body = result_document(action, api.namespace, result, "rid-1", maps=api.maps,
                           transforms=api.transforms, wrapped=action in api.empty_results)
    parsed = parsers.create_parser("query").parse(
        {"body": body, "headers": {}, "status_code": 200}, operation.output_shape)
    json_decode_policies(parsed, operation)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "rid-1"
    assert parsed == _datetimes(result)


def test_policy_documents_are_percent_encoded_as_iam_sends_them() -> None:
    body = result_document("GetUserPolicy", IAM.namespace,
                           {"UserName": "a", "PolicyName": "p", "PolicyDocument": POLICY},
                           "rid", transforms=IAM.transforms).decode()
    assert ("<PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B"
            "%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A"
            "%22arn%3Aaws%3As3%3A%3A%3Aa%20b%2F%2A%22%7D%5D%7D</PolicyDocument>") in body


def test_an_error_is_the_code_message_and_type_botocore_reads() -> None:
    body = error_document(IAM.namespace, EngineError(
        "NoSuchEntity", "The user with name <bob> cannot be found."), "rid-2")
    parsed = parsers.create_parser("query").parse(
        {"body": body, "headers": {}, "status_code": 404}, None)
    assert parsed["Error"] == {"Type": "Sender", "Code": "NoSuchEntity",
                               "Message": "The user with name <bob> cannot be found."}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-2"


@pytest.mark.parametrize(("s3", "code", "status"), [
    ("InvalidAccessKeyId", "InvalidClientTokenId", 403),
    ("AuthorizationHeaderMalformed", "IncompleteSignature", 400),
    ("RequestTimeTooSkewed", "SignatureDoesNotMatch", 403),
    ("ExpiredToken", "ExpiredToken", 403),
    ("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403),
])
def test_signature_failures_have_the_query_apis_codes(s3: str, code: str, status: int) -> None:
    err = authentication_error(EngineError(s3, "why"))
    assert (err.code, err.http_status) == (code, status)


MODEL = FormModel(lists=frozenset({"A"}), maps=frozenset({"M"}),
                  structure_lists=frozenset({"Tags"}))


@pytest.mark.parametrize(("form", "message"), [
    ("A.member.x=1", "not numbered from 1"),
    ("A.member.1=1&A.member.01=2", "numbers two items 1"),
    ("A=1&A.B=2", "has a value"),
    ("A..B=1", "not valid"),
    ("a.b.c.d.e.f.g.h.i.j.k.l.m=1", "not valid"),
    ("M.entry.1.value=1", "not a key and a value"),
])
def test_a_form_no_sdk_writes_is_malformed_query_string(form: str, message: str) -> None:
    with pytest.raises(EngineError) as caught:
        members(tree(fields(form)), MODEL)
    assert caught.value.code == "MalformedQueryString" and message in caught.value.message
    assert caught.value.http_status == 404


@pytest.mark.parametrize(("form", "message"), [
    ("UserName.member.1=x", "UserName must be a single value"),
    ("A.B=1", "A must be a list, given as A.member.N"),
    ("A.member.1.B=1", "A must be a list of strings"),
    ("Tags.member.1=x", "Tags must be a structure"),
    ("M=x", "M must be a map, given as M.entry.N"),
])
def test_a_member_in_another_form_is_refused_before_any_service(form: str, message: str
                                                                ) -> None:
    with pytest.raises(EngineError) as caught:
        members(tree(fields(form)), MODEL)
    assert caught.value.code == "ValidationError" and message in caught.value.message


def test_lists_maps_and_structures_read_back() -> None:
    form = ("A.member.2=b&A.member.1=a&M.entry.1.key=k&M.entry.1.value=v&"
            "Tags.member.1.Key=team&Tags.member.1.Value=x+y")
    assert members(tree(fields(form)), MODEL) == {
        "A": ["a", "b"], "M": {"k": "v"}, "Tags": [{"Key": "team", "Value": "x y"}]}
    assert members(tree(fields("A=&M=&Tags=")), MODEL) == {"A": [], "M": {}, "Tags": []}


def test_integers_and_booleans_are_checked() -> None:
    model = FormModel(integers=frozenset({"MaxItems"}), booleans=frozenset({"OnlyAttached"}))
    assert members(tree(fields("MaxItems=10&OnlyAttached=TRUE")), model) == {
        "MaxItems": 10, "OnlyAttached": True}
    for form, text in (("MaxItems=ten", "'ten' at 'maxItems'"),
                       ("OnlyAttached=yes", "'yes' at 'onlyAttached'")):
        with pytest.raises(EngineError) as caught:
            members(tree(fields(form)), model)
        assert caught.value.code == "ValidationError" and text in caught.value.message


@pytest.mark.parametrize(("method", "path", "content_type", "service"), [
    ("POST", "/", "application/x-www-form-urlencoded; charset=utf-8", UNSIGNED_QUERY),
    ("POST", "/", "Application/X-WWW-Form-Urlencoded", UNSIGNED_QUERY),
    ("PUT", "/", "application/x-www-form-urlencoded", None),  # curl -d on S3
    ("POST", "/bucket/key?uploads", "application/x-www-form-urlencoded", None),
    ("POST", "/?delete", "application/x-www-form-urlencoded", None),
    ("POST", "/", "multipart/form-data; boundary=x", None),  # S3's POST Object
])
def test_only_an_unsigned_form_posted_to_the_root_is_an_unsigned_query_call(
        method: str, path: str, content_type: str, service: str | None) -> None:
    assert service_of({"content-type": content_type}, method, path) == service
    signed = {"content-type": content_type, "authorization": "AWS4-HMAC-SHA256 Credential="
              "AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"}
    assert service_of(signed, method, path) == "iam"
