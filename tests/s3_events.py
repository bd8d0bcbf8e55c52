"""What the S3 event notification tests share: a queue whose policy lets one bucket send
(the statement AWS's guide gives), made with boto3's SQS client."""

from __future__ import annotations

import json
import uuid
from typing import Any


def allow_bucket(queue_arn: str, bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}}]})


def queue_for(sqs: Any, bucket: str, hint: str = "events") -> tuple[str, str]:
    """(URL, ARN) of a new standard queue the bucket may send to."""
    url = sqs.create_queue(QueueName=f"{hint}-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": allow_bucket(arn, bucket)})
    return url, arn
