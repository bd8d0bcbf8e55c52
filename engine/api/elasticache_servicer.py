"""ElastiCache's management API over gRPC: an action name and its members as JSON, in
and out (see elasticache.proto), as the IAM service carries IAM's. The caller was
authenticated and authorized (``elasticache:<Action>``) by the AuthInterceptor."""

from __future__ import annotations

from engine.api.iam_servicer import AwsCallServicer
from engine.v1 import elasticache_pb2_grpc


class ElastiCacheServicer(AwsCallServicer, elasticache_pb2_grpc.ElastiCacheServicer):
    pass
