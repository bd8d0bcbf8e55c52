"""The S3 REST API over HTTP (aiohttp, on the node's own event loop).

A request goes through the same steps as a gRPC call, each in its own module: the
operation is chosen from the method, the bucket/key and the query (routing.py); the
signature gives the principal (auth.py over engine.iam's verifiers); the access table
and the bucket's policies decide (access.py); the body is decoded and checked as it
streams (body.py); an operation module calls the object service and writes S3's
headers and XML (operations_*.py); failures are S3's XML errors (errors.py). app.py
strings them together, server.py runs the listener. No business rule lives here.
"""
