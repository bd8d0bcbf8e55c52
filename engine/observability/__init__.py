"""What a node tells its operator: Prometheus metrics, JSON logs and request ids.

Nothing here changes what a request does; everything is read-only over the services
and catches its own errors, so a metrics bug can cost a scrape, never a call.
See docs/observability.md for what is exported and what it costs.
"""
