"""The Redis connection pool (one per process, short timeouts) and the circuit that lets
requests skip Redis at once while it is known to be down."""

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from app.core.config import RedisSettings
from app.core.cooldown import Cooldown
from app.core.metrics import AppMetrics

# No retries: one Redis call is one attempt, bounded by REDIS__SOCKET_TIMEOUT_SECONDS. redis-py's
# retry defaults depend on how a client is built and on its version (`Redis(host=...)` retries
# three times with backoff: against a hung server one GET took 11 connections and 7 s), so they
# are pinned here instead of inherited. An outage is handled above this layer: the caller's
# fallback, and `RedisCircuit` skipping Redis for a while. A dead pooled connection (Redis
# restarted) needs no retry either: the pool checks a connection when handing it out and
# reconnects. And a retried INCR or XADD whose first attempt did reach the server would count or
# publish twice. Proof: tests/core/test_redis_retries.py.
NO_RETRY = Retry(NoBackoff(), retries=0)
# The pool checks each connection it hands out and reconnects one the server has closed (Redis
# restarted), so a restart costs no failed call. redis-py 8 skips that check whenever maintenance
# notifications (a Redis Enterprise/Cloud feature) are enabled, and its default, "auto", counts as
# enabled: every connection pooled before a restart then failed its first call and reopened the
# circuit. Proof: tests/faults/test_redis_crash.py.
NO_MAINTENANCE_NOTIFICATIONS = MaintNotificationsConfig(enabled=False)


def create_redis_pool(settings: RedisSettings) -> ConnectionPool:
    return ConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.socket_timeout_seconds,
        decode_responses=True,
        retry=NO_RETRY,
        maint_notifications_config=NO_MAINTENANCE_NOTIFICATIONS,
    )


def create_redis_client(pool: ConnectionPool) -> Redis:
    return Redis(connection_pool=pool)


logger = logging.getLogger("app.redis")

ResultT = TypeVar("ResultT")
FallbackT = TypeVar("FallbackT")


class CircuitOpenError(ConnectionError):
    """Redis was not tried: it failed less than the circuit's cooldown ago."""


def skipped(_: Exception) -> None:
    """The fallback of a call that can be done without: a read misses, a write is skipped."""
    return None


class RedisCircuit:
    """Remembers that Redis just failed. For `cooldown_seconds` afterwards, callers skip Redis
    and take their fallback at once (PostgreSQL, fail open/closed, 503) instead of each waiting
    out the socket timeout; the first call after the cooldown tries Redis again. The outage is
    logged at most once per `log_interval_seconds`, not once per request, and every failure is
    counted on the app's metrics.

    Every Redis call of the app goes through `call`, so what counts as an outage, the log and
    the metric live here once; each caller says only what its fallback is."""

    def __init__(
        self, metrics: AppMetrics, *, cooldown_seconds: float, log_interval_seconds: float
    ) -> None:
        self.metrics = metrics
        self.cooldown = Cooldown(cooldown_seconds, log_interval_seconds=log_interval_seconds)

    @property
    def available(self) -> bool:
        return self.cooldown.available

    async def call(
        self,
        what: str,
        operation: Callable[[], Awaitable[ResultT]],
        *,
        fallback: Callable[[Exception], FallbackT],
    ) -> ResultT | FallbackT:
        """`operation`'s result, or `fallback(error)` when Redis failed (the failure counted,
        logged and the circuit opened under `what`) or was skipped (a `CircuitOpenError`). A
        fallback may raise instead (fail closed). Only Redis failures fall back: redis-py's
        errors, and `OSError` from a socket that fails beneath them; any other error is a bug
        and propagates."""
        if not self.available:
            return fallback(CircuitOpenError("Redis circuit open"))
        try:
            return await operation()
        except (RedisError, OSError) as error:
            self._failed(what, error)
            return fallback(error)

    def _failed(self, what: str, error: Exception) -> None:
        self.metrics.count_redis_error()
        self.cooldown.trip()
        if self.cooldown.log_due():
            logger.warning(
                "Redis unavailable (%s): %s: %s; skipping it for %.1f s",
                what,
                type(error).__name__,
                error,
                self.cooldown.seconds,
            )
