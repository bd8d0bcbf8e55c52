"""SQS over HTTP on the node's AWS port, both of SQS's protocols: JSON (X-Amz-Target:
AmazonSQS.<Operation>) and query (Action=<Operation>, XML answers), served by the same
queue service and authorization as the gRPC Queues API."""
