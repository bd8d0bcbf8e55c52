"""The chaos harness (issue 19): a cluster of real node processes on their own loopback
addresses (launcher.py), faults injected into it (network.py: partitions with nftables),
workloads that record every operation's invocation and completion (history.py,
workload/), and the checkers that judge the history against models of S3, SQS,
ElastiCache and IAM semantics (checkers/, check.py).

The checkers and the history import nothing of the server side: a history is all a
checker sees, so the same checkers judge a run against this engine or against AWS
itself (tests/unit/test_chaos_history.py holds them to it). The harness is an operator
command like `engine bench`, so it lives in the package beside engine.bench.
"""
