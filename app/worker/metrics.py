"""The worker's Prometheus series, on the registry of the `AppMetrics` its resources count on
(so `redis_errors_total` and the process series come along), served on WORKER__METRICS_PORT."""

from prometheus_client import Counter, Gauge

from app.core.metrics import AppMetrics
from app.outbox.repository import Backlog
from app.outbox.service import RelayReport


class WorkerMetrics:
    def __init__(self, metrics: AppMetrics) -> None:
        self.app = metrics
        registry = metrics.registry
        self.relayed = Counter(
            "outbox_events_relayed",
            "Events published to their stream and marked sent (rate() is the relay rate).",
            registry=registry,
        )
        self.retried = Counter(
            "outbox_events_retried",
            "Events relayed after at least one failed attempt.",
            registry=registry,
        )
        self.failures = Counter(
            "outbox_publish_failures",
            "Publishes that failed; each holds back one tenant's events until its retry.",
            registry=registry,
        )
        self.pending = Gauge(
            "outbox_pending_events", "Outbox rows not yet relayed (lag in rows).", registry=registry
        )
        self.lag = Gauge(
            "outbox_lag_seconds",
            "Age of the oldest outbox row not yet relayed (0 when none).",
            registry=registry,
        )
        self.pass_errors = Counter(
            "worker_pass_errors",
            "Passes that failed before finishing (PostgreSQL unreachable, ...).",
            registry=registry,
        )
        self.last_pass = Gauge(
            "worker_last_pass_timestamp_seconds",
            "When the last pass ended, successful or not (the heartbeat).",
            registry=registry,
        )
        self.housekeeping_runs = Counter(
            "housekeeping_runs",
            "Housekeeping runs by outcome: ran, or skipped (another worker held the lock).",
            ("outcome",),
            registry=registry,
        )
        self.housekeeping_deleted = Counter(
            "housekeeping_deleted_rows",
            "Rows housekeeping deleted, by table.",
            ("table",),
            registry=registry,
        )

    def count_batch(self, report: RelayReport) -> None:
        self.relayed.inc(report.sent)
        self.retried.inc(report.retried)
        self.failures.inc(report.failed)

    def observe_backlog(self, backlog: Backlog) -> None:
        self.pending.set(backlog.pending)
        self.lag.set(backlog.oldest_seconds)

    def count_housekeeping(self, deleted: dict[str, int] | None) -> None:
        self.housekeeping_runs.labels("skipped" if deleted is None else "ran").inc()
        for table, rows in (deleted or {}).items():
            self.housekeeping_deleted.labels(table).inc(rows)
