"""The HTTP endpoint Prometheus scrapes: prometheus-client's own threaded WSGI server.

It runs in its own daemon threads, so a scrape (and the collectors it runs) never
blocks the node's event loop except through the GIL. Serves ``/metrics`` (any path, in
fact) in the Prometheus text format, or OpenMetrics when the scraper asks for it.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from engine.cluster.topology import parse_listen


class MetricsServer:
    def __init__(self, listen: str, registry: CollectorRegistry) -> None:
        self.listen = listen
        self.registry = registry
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Bind and serve; the address actually bound. OSError if it cannot bind."""
        host, port = parse_listen(self.listen)
        self._server, self._thread = start_http_server(port, host, registry=self.registry)
        bound_host, bound_port = self._server.server_address[:2]
        return f"{bound_host}:{bound_port}"

    def stop(self) -> None:
        """Stop accepting scrapes and wait for the serving thread (blocks < 1 s)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = self._thread = None
