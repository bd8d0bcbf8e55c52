"""SQS over HTTP: the JSON protocol (X-Amz-Target: AmazonSQS.<Operation>) on the node's
AWS port, served by the same queue service and authorization as the gRPC Queues API."""
