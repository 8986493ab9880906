"""Readiness checks. PostgreSQL and the migration head are hard requirements; Redis is soft: an
outage degrades the service (caches skipped) but must not pull every replica out of rotation."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.metrics import AppMetrics

CheckStatus = Literal["up", "down", "degraded"]
T = TypeVar("T")


@dataclass(slots=True)
class Check:
    status: CheckStatus
    latency_ms: float
    detail: str | None = None


@dataclass(slots=True)
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(self.checks[name].status == "up" for name in ("database", "migrations"))

    @property
    def status(self) -> Literal["ok", "degraded", "unavailable"]:
        if not self.ready:
            return "unavailable"
        return "ok" if all(c.status == "up" for c in self.checks.values()) else "degraded"


class HealthService:
    def __init__(
        self,
        session: AsyncSession,
        redis: Redis,
        metrics: AppMetrics,
        *,
        expected_heads: frozenset[str],
        known_revisions: frozenset[str],
        timeout_seconds: float,
    ) -> None:
        self.session = session
        self.redis = redis
        self.metrics = metrics
        self.expected_heads = expected_heads
        self.known_revisions = known_revisions
        self.timeout_seconds = timeout_seconds

    async def readiness(self) -> Readiness:
        (database, revisions), (redis, _) = await asyncio.gather(
            self._timed(self._database_revisions), self._timed(self._ping_redis)
        )
        if redis.status == "down":
            redis.status = "degraded"
            self.metrics.count_redis_error()
        return Readiness(
            checks={
                "database": database,
                "migrations": self._migrations(database, revisions),
                "redis": redis,
            }
        )

    async def _timed(self, probe: Callable[[], Awaitable[T]]) -> tuple[Check, T | None]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_seconds):
                value = await probe()
        except Exception as error:  # any failure is the answer here
            detail = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
            return Check("down", _ms_since(started), detail), None
        return Check("up", _ms_since(started)), value

    async def _database_revisions(self) -> frozenset[str]:
        try:
            rows = await self.session.scalars(text("SELECT version_num FROM alembic_version"))
            return frozenset(rows)
        except BaseException:
            # Leave the request's session clean, so the dependency's commit has nothing to do.
            await asyncio.shield(self.session.rollback())
            raise

    async def _ping_redis(self) -> None:
        await self.redis.ping()

    def _migrations(self, database: Check, revisions: frozenset[str] | None) -> Check:
        if revisions is None:
            return Check("down", 0.0, "database unavailable")
        at = ",".join(sorted(revisions))
        if revisions == self.expected_heads:
            return Check("up", database.latency_ms, at)
        if revisions - self.known_revisions:
            # A newer release migrated (expand first, contract later: docs/deployment.md), so
            # this code still works against it. Ready, or a rolling update would empty the
            # Service the moment the migration commits, and a rollback could never get ready.
            return Check("up", database.latency_ms, f"{at} (ahead of this code)")
        detail = f"at {sorted(revisions)}, expected {sorted(self.expected_heads)}"
        return Check("down", database.latency_ms, detail)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
