"""The bench's SQS client: SQS's JSON protocol over aiohttp, SigV4-signed, one pool.

boto3 spends about a millisecond of client CPU per call, more than the node spends
serving it, so a bench through boto3 would measure boto3. This client does what an SDK
puts on the wire and no more: ``POST /`` with ``X-Amz-Target: AmazonSQS.<Operation>``,
a JSON body (``application/x-amz-json-1.0``), signed for service ``sqs`` with the body's
SHA-256 (SQS signs the payload; SDKs send no x-amz-content-sha256 to it), over one
keep-alive connection pool per endpoint.

`SqsStub` puts it behind the methods of the gRPC ``Queues`` stub the queue bench calls
(queues.proto messages in and out), so the queue workload's client (queue_client.py)
makes the very same calls over either protocol. An error answer is an `SqsError` with
the query code SDKs report (``x-amzn-query-error``, else the ``__type``'s shape).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp

from engine.bench.s3_http import base_url
from engine.bench.workload import OpError
from engine.client.credentials import resolve_auth
from engine.sigv4 import Credentials
from engine.sigv4.signer import sign_request
from engine.v1 import queues_pb2 as pb

JSON_1_0 = "application/x-amz-json-1.0"
UNAVAILABLE = 503  # the queue group cannot take the call now (ServiceUnavailable)


class SqsError(OpError):
    """An SQS error answer, or no answer at all (status 0)."""

    def __init__(self, code: str, message: str = "", status: int = 0) -> None:
        super().__init__(code, message)
        self.status = status

    @property
    def unavailable(self) -> bool:
        """The call may succeed if made again later (the gRPC bench's UNAVAILABLE)."""
        return self.status == UNAVAILABLE


class SqsTarget:
    """One node's SQS endpoint with the caller's credentials (the SDK's chain: AWS_*
    variables, then the shared files); an async context manager owning its pool of up to
    ``connections`` keep-alive connections."""

    def __init__(self, endpoint: str, connections: int = 100) -> None:
        self.url = base_url(endpoint)
        auth = resolve_auth()
        self.credentials: Credentials | None = auth.credentials
        self.region = auth.region
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SqsTarget:
        connector = aiohttp.TCPConnector(limit=self._connections)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()

    def headers(self, operation: str, body: bytes, now: float | None = None
                ) -> dict[str, str]:
        """The request's headers, signed (at ``now``, default the clock's time) as
        botocore signs an SQS JSON call."""
        fields = {"Content-Type": JSON_1_0, "X-Amz-Target": f"AmazonSQS.{operation}"}
        if self.credentials is None:
            return fields
        signed = sign_request("POST", self.url + "/", list(fields.items()), self.credentials,
                              self.region, "sqs", time.time() if now is None else now,
                              payload_hash=hashlib.sha256(body).hexdigest())
        return {**fields, **dict(signed.headers)}

    async def call(self, operation: str, document: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of one operation; SqsError for an error answer or none."""
        assert self._session is not None, "use SqsTarget as an async context manager"
        body = json.dumps(document, separators=(",", ":")).encode()
        try:
            async with self._session.post(self.url + "/", data=body,
                                          headers=self.headers(operation, body),
                                          skip_auto_headers=("Content-Type",)) as response:
                data = await response.read()
                if response.status >= 300:
                    raise error_of(response.status,
                                   response.headers.get("x-amzn-query-error"), data)
        except aiohttp.ClientError as exc:
            raise SqsError("ConnectionError", f"{self.url}: {exc}") from None
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise SqsError("MalformedResponse", data[:300].decode("utf-8", "replace"),
                           response.status) from None


def error_of(status: int, query_error: str | None, body: bytes) -> SqsError:
    """The error SDKs would report: the query code of ``x-amzn-query-error``, else the
    shape of ``__type`` (``com.amazonaws.sqs#QueueDoesNotExist``), else the status."""
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    message = str(document.get("message") or document.get("Message") or "")
    if query_error:
        code = query_error.split(";", 1)[0]
    else:
        code = str(document.get("__type", "")).rpartition("#")[2] or f"HTTP{status}"
    return SqsError(code, message, status)


class SqsStub:
    """The calls of the gRPC ``Queues`` stub that the queue bench makes, over SQS's JSON
    protocol: the same request and response messages, SQS's member names on the wire."""

    def __init__(self, target: SqsTarget) -> None:
        self.target = target

    async def GetQueueUrl(self, request: pb.GetQueueUrlRequest) -> pb.GetQueueUrlResponse:
        doc = await self.target.call("GetQueueUrl", {"QueueName": request.queue_name})
        return pb.GetQueueUrlResponse(queue_url=doc["QueueUrl"])

    async def DeleteQueue(self, request: pb.DeleteQueueRequest) -> pb.DeleteQueueResponse:
        await self.target.call("DeleteQueue", {"QueueUrl": request.queue_url})
        return pb.DeleteQueueResponse()

    async def SendMessage(self, request: pb.SendMessageRequest) -> pb.SendMessageResponse:
        doc = await self.target.call("SendMessage", {"QueueUrl": request.queue_url,
                                                     **_entry(request)})
        return pb.SendMessageResponse(message_id=doc["MessageId"],
                                      md5_of_message_body=doc.get("MD5OfMessageBody", ""),
                                      sequence_number=doc.get("SequenceNumber", ""))

    async def SendMessageBatch(self, request: pb.SendMessageBatchRequest
                               ) -> pb.SendMessageBatchResponse:
        doc = await self.target.call("SendMessageBatch", {
            "QueueUrl": request.queue_url,
            "Entries": [{"Id": e.id, **_entry(e)} for e in request.entries]})
        return pb.SendMessageBatchResponse(
            successful=[pb.SendMessageBatchResultEntry(
                id=s["Id"], message_id=s["MessageId"],
                md5_of_message_body=s.get("MD5OfMessageBody", ""),
                sequence_number=s.get("SequenceNumber", ""))
                for s in doc.get("Successful", ())],
            failed=_failed(doc))

    async def ReceiveMessage(self, request: pb.ReceiveMessageRequest
                             ) -> pb.ReceiveMessageResponse:
        document: dict[str, Any] = {"QueueUrl": request.queue_url}
        if request.HasField("max_number_of_messages"):
            document["MaxNumberOfMessages"] = request.max_number_of_messages
        if request.HasField("wait_time_seconds"):
            document["WaitTimeSeconds"] = request.wait_time_seconds
        if request.HasField("visibility_timeout"):
            document["VisibilityTimeout"] = request.visibility_timeout
        doc = await self.target.call("ReceiveMessage", document)
        return pb.ReceiveMessageResponse(messages=[
            pb.Message(message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"],
                       md5_of_body=m.get("MD5OfBody", ""), body=m["Body"])
            for m in doc.get("Messages", ())])

    async def DeleteMessage(self, request: pb.DeleteMessageRequest
                            ) -> pb.DeleteMessageResponse:
        await self.target.call("DeleteMessage", {"QueueUrl": request.queue_url,
                                                 "ReceiptHandle": request.receipt_handle})
        return pb.DeleteMessageResponse()

    async def DeleteMessageBatch(self, request: pb.DeleteMessageBatchRequest
                                 ) -> pb.DeleteMessageBatchResponse:
        doc = await self.target.call("DeleteMessageBatch", {
            "QueueUrl": request.queue_url,
            "Entries": [{"Id": e.id, "ReceiptHandle": e.receipt_handle}
                        for e in request.entries]})
        return pb.DeleteMessageBatchResponse(
            successful=[pb.DeleteMessageBatchResultEntry(id=s["Id"])
                        for s in doc.get("Successful", ())],
            failed=_failed(doc))


def _entry(message: pb.SendMessageRequest | pb.SendMessageBatchRequestEntry
           ) -> dict[str, Any]:
    """A message's members as SQS names them; FIFO ids only when set."""
    out: dict[str, Any] = {"MessageBody": message.message_body}
    if message.message_group_id:
        out["MessageGroupId"] = message.message_group_id
    if message.message_deduplication_id:
        out["MessageDeduplicationId"] = message.message_deduplication_id
    if message.HasField("delay_seconds"):
        out["DelaySeconds"] = message.delay_seconds
    return out


def _failed(doc: dict[str, Any]) -> Sequence[pb.BatchResultErrorEntry]:
    return [pb.BatchResultErrorEntry(id=f["Id"], sender_fault=bool(f.get("SenderFault")),
                                     code=f.get("Code", ""), message=f.get("Message", ""))
            for f in doc.get("Failed", ())]
