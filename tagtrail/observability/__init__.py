"""What every service exposes to operators: Prometheus metrics and health endpoints.

Services build one `Metrics` on a registry they own, count what they do through its methods, and
start `serve_metrics` so Prometheus can scrape /metrics and Kubernetes can probe /healthz and /readyz.
"""

from tagtrail.observability.labels import LabelGuard, site_secrets
from tagtrail.observability.lag import LagReporter, record_consumer_lag
from tagtrail.observability.metrics import Metrics
from tagtrail.observability.server import MetricsServer, serve_metrics

__all__ = ["LabelGuard", "LagReporter", "Metrics", "MetricsServer", "record_consumer_lag", "serve_metrics", "site_secrets"]
