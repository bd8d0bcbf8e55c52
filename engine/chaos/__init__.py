"""The chaos harness's pure core: the operation history it records and the checkers that
judge it against models of S3, SQS, ElastiCache and IAM semantics.

Nothing here imports the server side: a history is all a checker sees, so the same
checkers judge a run against this engine or against AWS itself.
"""
