"""The AWS services whose SDKs POST to "/" on the node's HTTP port, beside S3: which
service a request is for (service.py), and each service's protocol (sqs/)."""
