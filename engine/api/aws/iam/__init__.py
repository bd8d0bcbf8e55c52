"""IAM and STS over HTTP: their query APIs on the node's AWS port (docs/iam.md)."""
