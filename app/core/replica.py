"""The read replica (`DATABASE__REPLICA_URL`): where a read session goes, and when it goes to the
primary instead.

A read (`ReadSessionDep`, app/auth/dependencies.py) asks `ReadReplica.session` for a session on
the replica, and reads on the request's own session, on the primary, when it gets None:

- the replica failed less than `DATABASE__REPLICA_CIRCUIT_COOLDOWN_SECONDS` ago (not tried: one
  timeout per cooldown, not one per request, as `RedisCircuit` does for Redis);
- it did not answer within `DATABASE__REPLICA_CONNECT_TIMEOUT_SECONDS`, or failed (the circuit
  opens);
- it is not in recovery (a promoted or misconfigured server: not a replica of the primary);
- its replay lags more than `DATABASE__REPLICA_MAX_LAG_SECONDS`;
- it has not yet replayed the reader's last write (read-your-writes, below), or Redis cannot say
  what that write was (fail safe).

The checks cost the replica nothing: the first statement of the replica's transaction binds the
tenant, makes the transaction READ ONLY and measures the lag and the replayed position, in the
one round trip the binding alone would take.

Read-your-writes: after a request's write commits, `remember_write` stores the primary's WAL
insert position (`pg_current_wal_insert_lsn()`, at or past the end of the commit's record) in
Redis under the writer (tenant and user), for `DATABASE__REPLICA_MAX_LAG_SECONDS` + 1 s. The
writer's reads use the replica only once it has replayed that far (`pg_last_wal_replay_lsn()`).
Past the entry's lifetime the lag bound covers the write: a replica within the bound has replayed
every commit older than it. Other callers' reads may see the replica's state, at most the bound
behind (docs/deployment.md, "Read replica").
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Final

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import DatabaseSettings
from app.core.cooldown import Cooldown
from app.core.db import SessionFactory, create_replica_engine, create_session_factory
from app.core.metrics import AppMetrics
from app.core.redis import RedisCircuit, skipped
from app.core.tenancy import TenantReadSession, bind_read_session

logger = logging.getLogger("app.db.replica")

# The replica transaction's first statement. $1 the tenant, $2 the position the reader's last
# write needs (NULL: none to wait for). Lag: none while the replica has replayed all it received
# (an idle primary sends nothing, so the last replayed commit may be old); otherwise the age of
# the last commit it replayed (never any: infinitely behind).
READ_ON_REPLICA: Final = """\
SELECT set_config('app.tenant_id', $1, true),
       set_config('transaction_read_only', 'on', true),
       pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8,
                          'Infinity') END,
       $2::text IS NULL OR pg_last_wal_replay_lsn() >= $2::text::pg_lsn"""

# After a write committed, on the primary (its own autocommit statement: one round trip).
WRITE_POSITION: Final = "SELECT pg_current_wal_insert_lsn()::text"


def writer_key(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"replica:written:{tenant_id}:{user_id}"


class _RedisUnavailable:
    """Redis could not say whether the reader wrote lately: read on the primary."""


class ReadReplica:
    """The replica's engine and what a process remembers of it: only whether it failed lately
    (the circuit). Lag and the replayed position are asked in each read's first statement."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: DatabaseSettings,
        *,
        redis_circuit: RedisCircuit,
        metrics: AppMetrics,
        log_interval_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.session_factory: SessionFactory = create_session_factory(engine)
        self.max_lag = settings.replica_max_lag_seconds
        self.timeout = settings.replica_connect_timeout_seconds
        self.cooldown = Cooldown(
            settings.replica_circuit_cooldown_seconds, log_interval_seconds=log_interval_seconds
        )
        self.remember_ms = int(settings.read_your_writes_seconds * 1000)
        self.redis_circuit = redis_circuit
        self.metrics = metrics

    @property
    def available(self) -> bool:
        return self.cooldown.available

    @asynccontextmanager
    async def session(
        self, tenant_id: uuid.UUID, reader: str, redis: Redis
    ) -> AsyncIterator[TenantReadSession | None]:
        """A READ ONLY session on the replica, bound to `tenant_id`, for `reader` (its
        `writer_key`, looked up in `redis`: the resources' client, handed in so that swapping
        it swaps it here too); None when the read belongs on the primary (the module's list).
        The session's transaction is rolled back when the block ends (it wrote nothing)."""
        reason, session = await self._open(tenant_id, reader, redis)
        self.metrics.count_read_session("primary" if session is None else "replica", reason)
        if session is None:
            yield None
            return
        try:
            yield session
        finally:
            await session.close()

    async def _open(
        self, tenant_id: uuid.UUID, reader: str, redis: Redis
    ) -> tuple[str, AsyncSession | None]:
        if not self.available:
            return "replica_down", None
        required = await self._last_write(reader, redis)
        if isinstance(required, _RedisUnavailable):
            return "redis_down", None
        session = self.session_factory()
        try:
            async with asyncio.timeout(self.timeout):
                _, row = await bind_read_session(session, tenant_id, READ_ON_REPLICA, required)
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            await _discard(session)
            self._failed(error)
            return "replica_down", None
        _, _, in_recovery, lag, caught_up = row
        if in_recovery and float(lag) <= self.max_lag and caught_up:
            return "replica", session
        await session.close()
        if not in_recovery:
            self._warn("DATABASE__REPLICA_URL's server is not in recovery: reading on the primary")
            return "not_a_replica", None
        return ("lag" if float(lag) > self.max_lag else "own_write"), None

    async def _last_write(self, reader: str, redis: Redis) -> str | _RedisUnavailable | None:
        async def ask() -> str | None:
            value = await redis.get(reader)
            return None if value is None else str(value)

        return await self.redis_circuit.call(
            "read your writes", ask, fallback=lambda _: _RedisUnavailable()
        )

    async def remember_write(self, primary: AsyncEngine, redis: Redis, reader: str) -> None:
        """After `reader`'s write committed: the primary's WAL position, which the replica must
        have replayed before it serves `reader` again (an after-commit callback; a failure is
        logged by `run_after_commit`, and a Redis outage sends every read to the primary)."""
        async with primary.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            position = await autocommit.scalar(text(WRITE_POSITION))

        async def store() -> None:
            await redis.set(reader, str(position), px=self.remember_ms)

        await self.redis_circuit.call("read your writes", store, fallback=skipped)

    def _failed(self, error: Exception) -> None:
        self.cooldown.trip()
        self._warn(
            f"read replica unavailable: {type(error).__name__}: {error}; reading on the primary "
            f"for {self.cooldown.seconds:.1f} s"
        )

    def _warn(self, message: str) -> None:
        if self.cooldown.log_due():
            logger.warning(message)


def read_replica(
    settings: DatabaseSettings,
    *,
    redis_circuit: RedisCircuit,
    metrics: AppMetrics,
    hide_parameters: bool = True,
) -> ReadReplica | None:
    """The replica `DATABASE__REPLICA_URL` names, on an engine of its own; None without one."""
    if settings.replica_url is None:
        return None
    engine = create_replica_engine(settings, settings.replica_url, hide_parameters=hide_parameters)
    return ReadReplica(engine, settings, redis_circuit=redis_circuit, metrics=metrics)


async def _discard(session: AsyncSession) -> None:
    """Drop a session whose connection failed or hung: its connection is invalidated, not
    rolled back (that would wait on it again)."""
    with suppress(SQLAlchemyError, OSError, TimeoutError):
        await session.invalidate()
