"""IAM's and STS's errors on the query protocol: the codes and statuses AWS answers.

The identity services raise the IAM and STS API References' codes already (NoSuchEntity
404, EntityAlreadyExists 409, ...). What differs is the front end's: SigV4 failures
come from the engine's S3-spelled verifier, and IAM and STS (like every query API) say
InvalidClientTokenId for an unknown key, IncompleteSignature for a malformed signature,
SignatureDoesNotMatch for an expired one, and ExpiredToken with 403. Anything
unexpected is logged and answered InternalFailure, never with internals.
"""

from __future__ import annotations

import logging

from engine.errors import EngineError

log = logging.getLogger("engine.iam.http")

# S3's spelling of an authentication failure -> (the query APIs' code, status)
_AUTHENTICATION = {
    "InvalidAccessKeyId": ("InvalidClientTokenId", 403),
    "AuthorizationHeaderMalformed": ("IncompleteSignature", 400),
    "AuthorizationQueryParametersError": ("IncompleteSignature", 400),
    "InvalidArgument": ("IncompleteSignature", 400),
    "InvalidRequest": ("IncompleteSignature", 400),
    "RequestTimeTooSkewed": ("SignatureDoesNotMatch", 403),
}
_STATUS = {"ExpiredToken": 403}


def authentication_error(err: EngineError) -> EngineError:
    """A failure of the signature check, as IAM and STS answer it."""
    code, status = _AUTHENTICATION.get(err.code, (err.code, err.http_status))
    if code == "InvalidClientTokenId" and err.code != code:
        return EngineError(code)  # the key id is not echoed: AWS's own message
    status = _STATUS.get(code, status)
    if (code, status) == (err.code, err.http_status):
        return err
    return EngineError(code, err.message, http_status=status)


def as_query_error(exc: BaseException, service: str, action: str) -> EngineError:
    """``exc`` as the error the client gets; an unexpected one is logged."""
    if isinstance(exc, EngineError):
        status = _STATUS.get(exc.code)
        return exc if status is None else EngineError(exc.code, exc.message,
                                                      http_status=status)
    log.error("unexpected failure in %s %s", service, action, exc_info=exc)
    return EngineError("InternalFailure", "The request processing has failed because of an "
                       "unknown error, exception or failure.", http_status=500)
