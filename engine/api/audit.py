"""The audit log (`engine serve --audit-log FILE`): one JSON line per denied request and
per mutating call, for whoever must later answer "who did what, from where".

Every line has the same keys::

    {"time": "2026-05-01T12:00:00.123Z", "request_id": "9f0c...", "decision": "deny",
     "error_code": "AccessDenied", "principal": "arn:aws:iam::123456789012:user/alice",
     "access_key_id": "AKIA...", "action": "s3:DeleteObject",
     "resource": "arn:aws:s3:::photos/cat.jpg", "method": "/engine.v1.ObjectStore/DeleteObject",
     "source": "ipv4:127.0.0.1:50412"}

``time`` is the engine clock's, UTC. ``decision`` is ``allow`` or ``deny``;
``error_code`` is the code the client got for a denial (AccessDenied, or the
authentication failure: InvalidAccessKeyId, SignatureDoesNotMatch, ...), else null.
``principal`` is the caller's ARN, "anonymous" when authentication failed or was
missing; ``access_key_id`` the key the call was signed with (never a secret, a
signature or a session token). ``action`` and ``resource`` are null when the request
could not be read (an authentication failure on a client stream, before its first
message). A DeleteObjects whose keys are partly denied gets a deny line (the first
denied key) and an allow line (the first deleted key).

Which calls are mutating is decided by :func:`is_mutating`, from the AWS action the
access table gives each call, and nowhere else.

Lines are formatted on the calling thread (a json.dumps) and written by a
QueueListener's thread through a RotatingFileHandler: the event loop never waits on the
disk. The file rotates at ``max_bytes`` (FILE.1 is the newest old file) keeping
``backups`` old files; it and its rotations are created with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import re
from collections.abc import Iterable, Sequence
from logging.handlers import QueueListener, RotatingFileHandler
from pathlib import Path
from typing import Any

import grpc

from engine.api.access_rules_iam import params_of
from engine.api.access_rules_types import Access
from engine.clock import Clock
from engine.errors import EngineError
from engine.iam.principal import Principal
from engine.observability import request_id
from engine.v1 import iam_pb2

# Actions whose name starts so read and change nothing a caller can see (ReceiveMessage
# moves a message's visibility, as reads move last-accessed times: not audited).
READ_ONLY_PREFIXES = ("Get", "List", "Head", "Describe", "Receive", "Read", "Simulate")
READ_ONLY_ACTIONS = frozenset({"engine:Status", "engine:Echo"})
_KEY_ID = re.compile(r"Credential=([A-Za-z0-9]{1,128})/")


def is_mutating(action: str) -> bool:
    """Whether a call needing ``action`` ("s3:PutObject") changes state: the one rule."""
    if action in READ_ONLY_ACTIONS:
        return False
    return not action.partition(":")[2].startswith(READ_ONLY_PREFIXES)


def _iso(ns: int) -> str:
    moment = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def signed_key_id(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    """The access key id of a SigV4 authorization entry, and nothing else of it."""
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str):
            match = _KEY_ID.search(value)
            return match.group(1) if match else None
    return None



def http_peer(request: Any) -> str:
    """An HTTP request's peer in the form gRPC names one (``ipv4:HOST:PORT``), so audit
    lines read alike whichever protocol a call came by."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return ""
    host, port = peer[0], peer[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"

class _PrivateRotatingFileHandler(RotatingFileHandler):
    """RotatingFileHandler whose files are created 0600: they name who did what."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


class AuditLog:
    def __init__(self, path: Path, clock: Clock, *, max_bytes: int, backups: int) -> None:
        if max_bytes < 1 or backups < 1:  # with 0, RotatingFileHandler never rotates
            raise ValueError("the audit log needs max_bytes >= 1 and backups >= 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._handler = _PrivateRotatingFileHandler(path, maxBytes=max_bytes,
                                                    backupCount=backups, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._listener = QueueListener(self._queue, self._handler)
        self._listener.start()

    def write(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, separators=(",", ":"))
        self._queue.put(logging.makeLogRecord({"msg": text, "levelno": logging.INFO,
                                               "levelname": "INFO"}))

    def close(self) -> None:
        """Write what is queued, then close the file."""
        self._listener.stop()
        self._handler.close()

    def call(self, method: str, service: str, metadata: Sequence[tuple[str, str | bytes]],
             context: grpc.aio.ServicerContext) -> AuditedCall:
        return AuditedCall(self, method, service, metadata, context.peer())


class AuditedCall:
    """One call as the interceptor learns about it: who, then what, then the verdict."""

    def __init__(self, log: AuditLog, method: str, service: str,
                 metadata: Sequence[tuple[str, str | bytes]], peer: str) -> None:
        self.log, self.method, self.service = log, method, service
        self.metadata, self.peer = metadata, peer
        self.principal: Principal | None = None
        self.pending: Access | None = None  # authorized by the servicer itself (AssumeRole)

    def _line(self, decision: str, access: Access | None, code: str | None) -> None:
        who = self.principal
        key_id = who.access_key if who is not None and who.access_key else (
            signed_key_id(self.metadata))
        self.log.write({
            "time": _iso(self.log.clock.now_ns()), "request_id": request_id.current(),
            "decision": decision, "error_code": code,
            "principal": (who.arn if who is not None else None) or "anonymous",
            "access_key_id": key_id,
            "action": access.action if access else None,
            "resource": access.resource if access else None,
            "method": self.method, "source": self.peer})

    def authenticated(self, principal: Principal) -> None:
        self.principal = principal

    def refused(self, err: EngineError, access: Access | None = None,
                request: Any = None) -> None:
        """Authentication failed; ``access`` and ``request``: what the call asked for,
        if it could be read."""
        if access is None and request is not None:
            access = self._servicer_access(request, mutating=False)
        self._line("deny", access, err.code)

    def denied(self, err: EngineError, access: Access) -> None:
        """Deciding ``access`` failed: a denial (AccessDenied) is audited, an error
        while deciding (a lookup that failed) is not one."""
        if err.grpc_status == grpc.StatusCode.PERMISSION_DENIED:
            self._line("deny", access, err.code)

    def admitted(self, found: Sequence[Access], request: Any,
                 denied: Iterable[int] = ()) -> None:
        """Every access in ``found`` was allowed, but those at positions ``denied`` of a
        per-item call; a call needing none is left for :meth:`finished`."""
        refused = set(denied)
        if refused:
            first = found[min(refused)]
            self._line("deny", first, "AccessDenied")
        allowed = [a for i, a in enumerate(found) if i not in refused and is_mutating(a.action)]
        if allowed:
            self._line("allow", allowed[0], None)
        elif not found:
            self.pending = self._servicer_access(request)

    def _servicer_access(self, request: Any, *, mutating: bool = True) -> Access | None:
        """The action of an IAM/STS call the access table waves through (AssumeRole is
        decided by STS against the role's trust policy), if it is mutating or that does
        not matter."""
        if not isinstance(request, iam_pb2.AwsCall):
            return None
        action = f"{self.service}:{request.action}"
        resource = params_of(request).get("RoleArn")
        access = Access(action, resource if isinstance(resource, str) and resource else "*")
        return access if is_mutating(action) or not mutating else None

    def finished(self, context: grpc.aio.ServicerContext) -> None:
        """The servicer answered a call it authorized itself: its verdict."""
        if self.pending is None:
            return
        code = context.code()
        if code is None or code == grpc.StatusCode.OK:
            self._line("allow", self.pending, None)
        elif code == grpc.StatusCode.PERMISSION_DENIED:
            self._line("deny", self.pending, "AccessDenied")
