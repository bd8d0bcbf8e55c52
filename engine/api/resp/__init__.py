"""The RESP (Redis serialization protocol) endpoint: redis-cli, redis-py and other Redis
clients talk to the cache tier directly (issue 18). See docs/cache.md, "RESP endpoint"."""
