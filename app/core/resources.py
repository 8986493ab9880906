"""What the process opens once and shares between requests: pools, factories, codecs.

`open_resources` is the whole lifespan of the process-wide objects. The app's lifespan and the
CLI both use it, and dependencies in `app/http/deps.py` hand the pieces out per request.
"""

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.cache import Cache, RedisCache
from app.core.config import Settings
from app.core.db import (
    SessionFactory,
    create_engine,
    create_session_factory,
)
from app.core.events import EventPublisher, RedisStreamPublisher
from app.core.metrics import AppMetrics
from app.core.pagination import CursorCodec
from app.core.ratelimit import RateLimiter
from app.core.redis import RedisCircuit, create_redis_client, create_redis_pool
from app.core.replica import ReadReplica, read_replica
from app.core.security import Argon2PasswordHasher, JWTCodec, PasswordHasher
from app.core.tracing import Tracing, open_tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True, slots=True)
class Resources:
    """Everything a request (or a worker's batch) may use that outlives it. Stateless helpers
    over Redis (cache, the event publisher the worker's relay uses, rate limiter) are built here
    once rather than per request. Tests swap a field with `dataclasses.replace` and override
    `get_resources` (app/http/deps.py)."""

    settings: Settings
    metrics: AppMetrics  # the app's, so what these resources count shows on its /metrics
    engine: AsyncEngine
    session_factory: SessionFactory
    redis: Redis
    redis_circuit: RedisCircuit
    cache: Cache
    publisher: EventPublisher
    rate_limiter: RateLimiter
    password_hasher: PasswordHasher
    jwt: JWTCodec
    cursor_codec: CursorCodec
    migration_heads: frozenset[str]
    migration_revisions: frozenset[str]  # every revision the code knows, its heads included
    tracing: Tracing | None = None  # None: tracing is off (TRACING__OTLP_ENDPOINT unset)
    # `DATABASE__REPLICA_URL`'s engine and circuit; None without one (reads use the primary).
    replica: ReadReplica | None = None

    def using_redis(self, redis: Redis) -> "Resources":
        """These resources over another Redis client: the cache, the publisher and the rate
        limiter are rebuilt on it (tests swap in an unreachable or hung Redis this way)."""
        return dataclasses.replace(
            self, redis=redis, **_over_redis(redis, self.redis_circuit, self.settings)
        )


def _over_redis(redis: Redis, circuit: RedisCircuit, settings: Settings) -> dict[str, Any]:
    return {
        "cache": RedisCache(redis, circuit),
        "publisher": RedisStreamPublisher(
            redis, circuit, max_length=settings.events.stream_max_length
        ),
        "rate_limiter": RateLimiter(redis, circuit, fail_open=settings.rate_limit.fail_open),
    }


def read_migration_heads(directory: Path = MIGRATIONS_DIR) -> frozenset[str]:
    """The revisions the code expects the database to be at (read from disk, once): what
    `alembic_version` holds after `alembic upgrade heads`. That is every head less those another
    head depends on, which Alembic records as implied: the demo's branch depends on the spine as
    it stood at its own first revision, so while that is the spine's head the table holds only
    the demo's head (CONTRIBUTING.md, "Migrations")."""
    script = ScriptDirectory(str(directory))
    heads = frozenset(script.get_heads())
    implied = {
        ancestor.revision
        for head in heads
        for ancestor in script.iterate_revisions(head, "base")
        if ancestor.revision != head
    }
    return heads - implied


def read_migration_revisions(directory: Path = MIGRATIONS_DIR) -> frozenset[str]:
    """Every revision the code knows: a database at one it does not know is ahead of it."""
    return frozenset(script.revision for script in ScriptDirectory(str(directory)).walk_revisions())


@asynccontextmanager
async def open_resources(
    settings: Settings,
    metrics: AppMetrics | None = None,
    *,
    component: str | None = None,
    span_processor: "SpanProcessor | None" = None,
) -> AsyncIterator[Resources]:
    """Create every shared resource; close them in reverse order on exit. Connects lazily.
    An app passes its `metrics`; without one (the CLI) they count on a registry of their own
    that nothing scrapes.

    `component` names a traced process (`api`, `worker`): with TRACING__OTLP_ENDPOINT set, or a
    `span_processor` given (tests), it is traced (app/core/tracing.py), and its spans are
    exported before the pools close. Without one (the CLI) nothing is traced."""
    metrics = metrics or AppMetrics()
    engine = create_engine(settings.database, hide_parameters=not settings.is_development)
    redis = create_redis_client(create_redis_pool(settings.redis))
    circuit = RedisCircuit(
        metrics,
        cooldown_seconds=settings.redis.circuit_cooldown_seconds,
        log_interval_seconds=settings.redis.outage_log_interval_seconds,
    )
    replica = read_replica(
        settings.database,
        redis_circuit=circuit,
        metrics=metrics,
        hide_parameters=not settings.is_development,
    )
    try:
        traced = component is not None
        with (
            open_tracing(
                settings.tracing,
                component=component or "",
                redis=redis,
                span_processor=span_processor,
            )
            if traced
            else nullcontext()
        ) as tracing:
            yield Resources(
                settings=settings,
                metrics=metrics,
                engine=engine,
                session_factory=create_session_factory(engine),
                redis=redis,
                redis_circuit=circuit,
                **_over_redis(redis, circuit, settings),
                password_hasher=Argon2PasswordHasher(settings.auth),
                jwt=JWTCodec(settings.auth),
                cursor_codec=CursorCodec(settings.api.cursor_secret.get_secret_value().encode()),
                migration_heads=read_migration_heads(),
                migration_revisions=read_migration_revisions(),
                tracing=tracing,
                replica=replica,
            )
    finally:
        await redis.aclose(close_connection_pool=True)
        if replica is not None:
            await replica.engine.dispose()
        await engine.dispose()
        logging.getLogger(__name__).info("resources closed")
