"""The S3 Control client: boto3's ``client("s3control")`` for the account-level Block
Public Access (put/get/delete_public_access_block with AccountId=), over the
ObjectStore service's account RPCs (signed as ``s3``, as S3 Control is)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import grpc

from engine.client.base import DEFAULT_TIMEOUT, ServiceClient
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import S3_EXCEPTIONS, response_metadata
from engine.client.s3_permissions import block_dict, block_message
from engine.client.signing import Clock
from engine.client.transport import DEFAULT_ENDPOINT
from engine.sigv4 import Credentials
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc


class S3ControlClient(ServiceClient):
    """An S3 Control client bound to one endpoint; thread-safe, one gRPC channel."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *,
                 timeout: float | None = DEFAULT_TIMEOUT, channel: grpc.Channel | None = None,
                 credentials: Credentials | None = None, region_name: str = DEFAULT_REGION,
                 clock: Clock = time.time) -> None:
        super().__init__(endpoint, timeout=timeout, channel=channel, exceptions=S3_EXCEPTIONS,
                         credentials=credentials, region_name=region_name, clock=clock)
        self._stub = objects_pb2_grpc.ObjectStoreStub(self._channel)

    def put_public_access_block(self, *, AccountId: str,
                                PublicAccessBlockConfiguration: Mapping[str, Any]
                                ) -> dict[str, Any]:
        """The account's four flags (a flag left out is false); OR-ed with each bucket's."""
        self._calls.unary("PutPublicAccessBlock", self._stub.PutAccountPublicAccessBlock,
                          pb.PutAccountPublicAccessBlockRequest(
                              account_id=AccountId,
                              configuration=block_message(PublicAccessBlockConfiguration)))
        return {"ResponseMetadata": response_metadata(200)}

    def get_public_access_block(self, *, AccountId: str) -> dict[str, Any]:
        """All four on for a new account; NoSuchPublicAccessBlockConfiguration once
        deleted."""
        resp = self._calls.unary("GetPublicAccessBlock", self._stub.GetAccountPublicAccessBlock,
                                 pb.GetAccountPublicAccessBlockRequest(account_id=AccountId))
        return {"ResponseMetadata": response_metadata(200),
                "PublicAccessBlockConfiguration": block_dict(resp.configuration)}

    def delete_public_access_block(self, *, AccountId: str) -> dict[str, Any]:
        self._calls.unary("DeletePublicAccessBlock",
                          self._stub.DeleteAccountPublicAccessBlock,
                          pb.DeleteAccountPublicAccessBlockRequest(account_id=AccountId))
        return {"ResponseMetadata": response_metadata(204)}
