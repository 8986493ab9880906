"""Prometheus metrics. Each app owns one registry (`create_app` builds an `AppMetrics`), never
the global default one, so a test can build several apps and each one's /metrics shows only its
own traffic. `ObservabilityMiddleware` (app/http/observability.py) records the HTTP series. The
same `AppMetrics` is handed to the app's resources (`open_resources`), where the code that meets
a Redis failure (the `RedisCircuit`, readiness) or refuses a request for its rate (the
`rate_limit` guard) counts on it: passed explicitly, never found through the request.
"""

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy.pool import Pool, QueuePool

HTTP_LABELS = ("method", "route", "status")
IN_PROGRESS_LABELS = ("method", "route")
# Any other method is counted as OTHER: label values must stay a small, known set, whatever a
# client sends.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

InFlightLabels = Callable[[], tuple[str, str]]
PoolSource = Callable[[], Pool | None]


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


class InProgressCollector:
    """`http_requests_in_progress{method,route}`, counted at scrape time from the requests in
    flight. A middleware must count a request as started before the router has matched it, so
    its route is unknown then; asking each in-flight request for its labels at scrape time gives
    it the route template as soon as it has one, without matching every request twice."""

    name = "http_requests_in_progress"
    documentation = "HTTP requests being handled, by method and route template."

    def __init__(self) -> None:
        self._in_flight: dict[int, InFlightLabels] = {}
        # Label pairs seen before stay exported at 0, so a quiet route reads 0, not "no data".
        self._seen: set[tuple[str, str]] = set()

    def started(self, key: int, labels: InFlightLabels) -> None:
        self._in_flight[key] = labels

    def finished(self, key: int, labels: tuple[str, str]) -> None:
        self._in_flight.pop(key, None)
        self._seen.add(labels)

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=IN_PROGRESS_LABELS)]

    def collect(self) -> Iterator[Metric]:
        counts = Tally(labels() for labels in list(self._in_flight.values()))
        family = GaugeMetricFamily(self.name, self.documentation, labels=IN_PROGRESS_LABELS)
        for pair in sorted(self._seen | counts.keys()):
            family.add_metric(list(pair), counts.get(pair, 0))
        yield family


class DatabasePoolCollector:
    """The SQLAlchemy pool's size and use, read from the engine at scrape time (nothing to
    update per request). Exports nothing before the lifespan has opened the engine."""

    def __init__(self, pool: PoolSource) -> None:
        self._pool = pool

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        pool = self._pool()
        if not isinstance(pool, QueuePool):  # a NullPool or StaticPool has no size to report
            return
        size, checked_out, checked_in = self._families()
        size.add_metric([], pool.size())
        checked_out.add_metric([], pool.checkedout())
        checked_in.add_metric([], pool.checkedin())
        yield from (size, checked_out, checked_in)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("db_pool_size", "Connections the pool keeps (DATABASE__POOL_SIZE)."),
            GaugeMetricFamily(
                "db_pool_checked_out_connections", "Pooled connections in use by a request."
            ),
            GaugeMetricFamily("db_pool_checked_in_connections", "Idle connections in the pool."),
        )


class AppMetrics:
    """Every series of one app, on its own registry."""

    def __init__(self, *, pool: PoolSource = lambda: None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "HTTP requests answered.", HTTP_LABELS, registry=self.registry
        )
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            HTTP_LABELS,
            registry=self.registry,
        )
        self.in_progress = InProgressCollector()
        self.registry.register(self.in_progress)
        self.redis_errors = Counter(
            "redis_errors",
            "Redis calls that failed (the caller then skipped or degraded).",
            registry=self.registry,
        )
        self.rate_limit_rejections = Counter(
            "rate_limit_rejections",
            "Requests refused by a rate limit, by limit name.",
            ("name",),
            registry=self.registry,
        )
        self.read_sessions = Counter(
            "db_read_sessions",
            "Read sessions (ReadSessionDep) by the server that served them and why: replica, "
            "or primary because no replica is configured, it failed, lags, has not replayed "
            "the reader's last write, or Redis could not say what that write was.",
            ("server", "reason"),
            registry=self.registry,
        )
        self.registry.register(DatabasePoolCollector(pool))
        # The process's memory, CPU, open files and GC, as the default registry would have them.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.request_duration.labels(*labels).observe(seconds)

    def count_redis_error(self) -> None:
        """One failed Redis call (`redis_errors_total`)."""
        self.redis_errors.inc()

    def count_read_session(self, server: str, reason: str) -> None:
        """One read session served by `server` ("replica" or "primary") for `reason` (a fixed
        word from `app.core.replica`): `db_read_sessions_total`."""
        self.read_sessions.labels(server, reason).inc()

    def count_rate_limit_rejection(self, name: str) -> None:
        """One request refused by the rate limit `name` (`rate_limit_rejections_total`).
        `name` must come from code (the limit's name), never from the request: it is a label."""
        self.rate_limit_rejections.labels(name).inc()
