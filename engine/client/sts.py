"""The STS client: boto3's STS method names, members and response dicts over gRPC.

``client("sts").assume_role(...)["Credentials"]`` has boto3's keys (AccessKeyId,
SecretAccessKey, SessionToken, Expiration as a datetime), so the usual hand-over works:
``client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=
c["SecretAccessKey"], aws_session_token=c["SessionToken"])``.
"""

from __future__ import annotations

from engine.client.aws_call import AwsCallClient, operation
from engine.client.iam_errors import STS_EXCEPTIONS
from engine.v1 import iam_pb2_grpc


class STSClient(AwsCallClient):
    """An STS client bound to one endpoint; thread-safe, one gRPC channel, reusable."""

    STUB = iam_pb2_grpc.StsStub
    EXCEPTIONS = STS_EXCEPTIONS

    get_caller_identity = operation("GetCallerIdentity")
    get_session_token = operation("GetSessionToken", (),
                                  ("DurationSeconds", "SerialNumber", "TokenCode"))
    assume_role = operation(
        "AssumeRole", ("RoleArn", "RoleSessionName"),
        ("PolicyArns", "Policy", "DurationSeconds", "Tags", "TransitiveTagKeys", "ExternalId",
         "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts"))
