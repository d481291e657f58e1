"""/metrics, /healthz and /readyz on a background thread, for Prometheus and Kubernetes probes.

A separate small HTTP server (not the scan API's) so every service, including those without an
HTTP API, is probed and scraped the same way, and a busy or broken API cannot hide the metrics.

/healthz answers "is the process able to serve at all" (liveness: restart me if not);
/readyz answers the injected readiness callback (e.g. connected to Kafka, partitions assigned):
Kubernetes keeps a pod out of Service endpoints while it answers 503, without restarting it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import make_wsgi_app

from tagtrail.observability.metrics import Metrics

log = structlog.get_logger(__name__)

Check = Callable[[], bool]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung scraper must not keep the process alive at exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        """Probes arrive every few seconds; logging each would drown the service's own logs."""


def _answer(check: Check | None, name: str) -> tuple[str, bytes]:
    if check is None:
        return "200 OK", b"ok\n"
    try:
        ok = bool(check())
    except Exception as exc:  # a failing check means "not ready", never a crashed endpoint
        # Only the exception type: messages can quote DSNs or settings.
        log.warning("health_check_failed", check=name, error=type(exc).__name__)
        return "503 Service Unavailable", f"not {name}: {type(exc).__name__}\n".encode()
    return ("200 OK", b"ok\n") if ok else ("503 Service Unavailable", f"not {name}\n".encode())


def health_app(metrics: Metrics, *, ready: Check | None = None, live: Check | None = None) -> Callable:
    """The WSGI app: /metrics from the Metrics registry, /healthz from `live`, /readyz from `ready`."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path in ("/healthz", "/readyz"):
            status, body = _answer(live, "live") if path == "/healthz" else _answer(ready, "ready")
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
            return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics, /healthz or /readyz\n"]

    return app


class MetricsServer:
    """A running metrics server: `.port` is the bound port (useful with port 0), `.close()` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    metrics: Metrics,
    host: str = "0.0.0.0",
    port: int = 0,
    *,
    ready: Check | None = None,
    live: Check | None = None,
) -> MetricsServer:
    """Starts serving on a daemon thread and returns once the socket is bound (port 0 = any free port)."""
    server = make_server(host, port, health_app(metrics, ready=ready, live=live), server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="tagtrail-metrics", daemon=True)
    thread.start()
    handle = MetricsServer(server, thread)
    log.info("metrics_serving", host=handle.host, port=handle.port)
    return handle
