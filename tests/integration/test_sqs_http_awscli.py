"""aws-cli's `aws sqs` against the node's HTTP port, as a user types it: create a queue,
send, receive with a long poll, delete, and the error a missing queue gets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_sqs_http import queue_name

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
pytestmark = pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")


def aws(server, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    assert AWS is not None
    done = subprocess.run([AWS, "--endpoint-url", server.http_url, "--output", "json",
                           "sqs", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AWS_PAGER": ""})
    assert (done.returncode == 0) == ok, done.stderr
    return done


def test_aws_sqs_commands(shared_server, request):
    name = queue_name(request.node.name)
    url = json.loads(aws(shared_server, "create-queue", "--queue-name", name,
                         "--attributes", "VisibilityTimeout=60").stdout)["QueueUrl"]
    assert url.startswith(shared_server.http_url + "/") and url.endswith("/" + name)
    sent = json.loads(aws(shared_server, "send-message", "--queue-url", url,
                          "--message-body", "hello from the cli").stdout)
    assert sent["MD5OfMessageBody"] == "d9753fc9dd33c4c963eaa685be8083bc"  # md5 of the body
    got = json.loads(aws(shared_server, "receive-message", "--queue-url", url,
                         "--wait-time-seconds", "5").stdout)
    [message] = got["Messages"]
    assert message["Body"] == "hello from the cli"
    assert message["MessageId"] == sent["MessageId"]
    aws(shared_server, "delete-message", "--queue-url", url, "--receipt-handle",
        message["ReceiptHandle"])
    listed = json.loads(aws(shared_server, "list-queues", "--queue-name-prefix", name).stdout)
    assert listed["QueueUrls"] == [url]
    aws(shared_server, "delete-queue", "--queue-url", url)
    missing = aws(shared_server, "get-queue-url", "--queue-name", name, ok=False)
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr
    assert "The specified queue does not exist." in missing.stderr
