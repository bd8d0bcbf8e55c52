"""`--log-format json`: one parseable object per line, with node and request id."""

from __future__ import annotations

import contextvars
import io
import json
import logging

from engine.observability import request_id
from engine.observability.json_logs import JsonFormatter


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("n7"))
    logger = logging.getLogger("engine.test_json_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_every_record_is_one_json_line_with_request_id_and_exception() -> None:
    stream = io.StringIO()
    log = _logger(stream)
    log.info("plain %s", "text")

    def in_request() -> None:
        request_id.enter("req-42")
        log.warning("two\nlines and \"quotes\"")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")

    contextvars.copy_context().run(in_request)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert records[0]["message"] == "plain text"
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "engine.test_json_logs"
    assert records[0]["node"] == "n7" and "request_id" not in records[0]
    assert records[0]["time"].endswith("Z") and "T" in records[0]["time"]
    assert records[1]["message"] == "two\nlines and \"quotes\""
    assert records[1]["request_id"] == "req-42"
    assert "ValueError: boom" in records[2]["exception"]
    assert records[2]["request_id"] == "req-42"


def test_request_ids_from_callers_are_kept_only_when_sane() -> None:
    assert request_id.from_metadata([(request_id.HEADER, "abc-1")]) == "abc-1"
    for bad in ("", "x" * 129, "tab\there"):
        got = request_id.from_metadata([(request_id.HEADER, bad)])
        assert got != bad and len(got) == 16
    assert request_id.from_metadata(None) != request_id.from_metadata(None)
