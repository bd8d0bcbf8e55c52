"""Clients for the services carried as an AWS action plus JSON members (IAM and STS, see
proto/engine/v1/iam.proto), presented with boto3's method names and dicts.

An operation is declared by its action and members. Calling it checks the members as
botocore does (required ones present, none unknown), sends them as JSON (a policy
document given as a dict is sent as its JSON text), and shapes the JSON result as
botocore shapes IAM's: dates become timezone-aware datetimes, policy documents become
dicts, and ``ResponseMetadata`` is added. Errors are the service's modeled exceptions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote

import grpc

from engine.client.base import DEFAULT_TIMEOUT, ServiceClient
from engine.client.calls import Caller
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import ClientExceptions, ParamValidationError, response_metadata
from engine.client.shapes import Anything, Struct, validate
from engine.client.signing import Clock
from engine.client.transport import DEFAULT_ENDPOINT
from engine.sigv4 import Credentials
from engine.v1 import iam_pb2 as pb

# Result members botocore parses as timestamps, and those it decodes as policy documents
# (IAM's policyDocumentType): the same names wherever they occur in IAM's and STS's shapes.
TIMESTAMP_MEMBERS = frozenset(
    {"CreateDate", "UpdateDate", "Expiration", "LastUsedDate", "PasswordLastUsed"})
DOCUMENT_MEMBERS = frozenset({"PolicyDocument", "AssumeRolePolicyDocument", "Document"})
# Request members that are policy documents (JSON text on the wire).
REQUEST_DOCUMENTS = frozenset({"PolicyDocument", "AssumeRolePolicyDocument", "Policy"})

Operation = Callable[..., dict[str, Any]]


def operation(action: str, required: tuple[str, ...] = (),
              optional: tuple[str, ...] = ()) -> Operation:
    """A client method for ``action`` taking boto3's keyword members."""
    shape = Struct(dict.fromkeys((*required, *optional), Anything), required=required)

    def call(self: AwsCallClient, **params: Any) -> dict[str, Any]:
        validate(params, shape, "input")
        return self._invoke(action, params)

    call.__name__ = call.__qualname__ = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
    call.__doc__ = f"The {action} action: {', '.join(required) or 'no'} required members."
    return call


def encode_params(params: Mapping[str, Any]) -> str:
    """The members as the JSON the server reads; dict policy documents become text."""
    members: dict[str, Any] = {}
    for name, value in params.items():
        if name in REQUEST_DOCUMENTS and not isinstance(value, str):
            if not isinstance(value, Mapping):
                raise ParamValidationError(
                    f"Parameter validation failed:\nInvalid type for parameter {name}, "
                    f"value: {value}, type: {type(value)}, valid types: <class 'str'>, "
                    "<class 'dict'>")
            value = json.dumps(value)
        members[name] = value
    try:
        return json.dumps(members)
    except (TypeError, ValueError) as exc:
        raise ParamValidationError(f"Parameter validation failed:\n{exc}") from None


def decode_result(text: str, action: str) -> dict[str, Any]:
    """The result as boto3 returns it; a reply that is not a JSON object is the
    service's fault (InternalError)."""
    try:
        result = json.loads(text or "{}")
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise Caller.protocol_error(action, "the result is not a JSON object")
    shaped: dict[str, Any] = _shaped(result, None)
    shaped["ResponseMetadata"] = response_metadata(200)
    return shaped


def _shaped(value: Any, member: str | None) -> Any:
    if isinstance(value, dict):
        return {name: _shaped(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_shaped(item, None) for item in value]
    if isinstance(value, str) and member in TIMESTAMP_MEMBERS:
        return _timestamp(value)
    if isinstance(value, str) and member in DOCUMENT_MEMBERS:
        return _document(value)
    return value


def _timestamp(text: str) -> datetime | str:
    """ISO 8601 as a datetime (UTC unless it says otherwise); text that is not a date is
    left as it is, as botocore leaves what it cannot parse."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _document(text: str) -> Any:
    """A policy document as a dict. AWS sends it URL-encoded, this engine plain; both
    are read. Text that is neither stays text (botocore's rule)."""
    for candidate in (text, unquote(text)):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return text


class AwsCallClient(ServiceClient):
    """A client of one ``Call(AwsCall) -> AwsReply`` service; subclasses declare their
    operations with :func:`operation` and name their stub and exceptions."""

    STUB: ClassVar[Callable[[grpc.Channel], Any]]
    EXCEPTIONS: ClassVar[ClientExceptions]

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        channel: grpc.Channel | None = None,
        credentials: Credentials | None = None,
        region_name: str = DEFAULT_REGION,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(endpoint, timeout=timeout, channel=channel,
                         exceptions=self.EXCEPTIONS, credentials=credentials,
                         region_name=region_name, clock=clock)
        self._stub = self.STUB(self._channel)

    def _invoke(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        request = pb.AwsCall(action=action, params_json=encode_params(params))
        reply = self._calls.unary(action, self._stub.Call, request)
        return decode_result(reply.result_json, action)
