"""AWS Signature Version 4, shared by the SDK (signing) and the server (verifying).

A leaf package: it imports only the standard library, so the SDK can use it without any
server code and the server's verifier (engine.iam.signature) can build the very same
canonical strings. Nothing here does I/O or reads a clock: time is passed in.
"""

from engine.sigv4.canonical import (
    ALGORITHM,
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    uri_encode,
)
from engine.sigv4.chunk_signing import ChunkedEncoder, ChunkSigning
from engine.sigv4.chunked import ChunkedDecoder, ChunkedError
from engine.sigv4.grpc_meta import sign_grpc
from engine.sigv4.keys import Credentials, signing_key
from engine.sigv4.signer import MAX_EXPIRES, SignedRequest, presign_url, sign_request

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_EXPIRES",
    "STREAMING_SIGNED",
    "STREAMING_SIGNED_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "ChunkSigning",
    "ChunkedDecoder",
    "ChunkedEncoder",
    "ChunkedError",
    "Credentials",
    "SignedRequest",
    "presign_url",
    "sign_grpc",
    "sign_request",
    "signing_key",
    "uri_encode",
]
