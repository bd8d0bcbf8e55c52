"""`engine serve --log-format json`: one JSON object per log line, for log shippers.

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``message`` and ``node``; ``request_id`` when the line was logged while serving a
request (engine/observability/request_id.py); ``exception`` with the traceback text
when there was one. Newlines inside a message are escaped by JSON, so one record is
always one line.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from engine.observability import request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def __init__(self, node_id: str) -> None:
        super().__init__()
        self.node_id = node_id

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "node": self.node_id,
        }
        # Handlers format in the thread (and context) that logged, so the request id
        # of the call being served is the current one here.
        rid = request_id.current()
        if rid is not None:
            out["request_id"] = rid
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str)


def _iso_utc(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def configure(level: str, log_format: str, node_id: str) -> None:
    """Root logging for a node: the existing text format, or JSON lines, on stderr."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(node_id))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
