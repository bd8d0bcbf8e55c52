"""The chaos harness's workloads: drivers that run operations against real endpoints and
record each one in a history (engine/chaos/history.py) for the checkers to judge.

A workload is a client: it imports the SDK (engine.client) and, for the HTTP endpoints,
boto3, and nothing from the server side.
"""
