"""engine: S3, SQS and ElastiCache semantics on machines you run yourself."""

__version__ = "0.1.0"
