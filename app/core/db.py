"""The async engine and session factory. Created once per process by `open_resources`."""

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import DatabaseSettings
from app.core.errors import KeepsWrites

logger = logging.getLogger("app.db")

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(
    settings: DatabaseSettings, *, url: str | None = None, hide_parameters: bool = True
) -> AsyncEngine:
    """`hide_parameters`: keep statement parameters (password hashes, emails, any user input)
    out of error messages, and so out of the logs. Only development and test show them."""
    engine = create_async_engine(
        url or settings.url,
        echo=settings.echo,
        hide_parameters=hide_parameters,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        # Off by default: a pre-ping is a round trip (three with asyncpg) on every checkout. A
        # connection the server dropped fails one statement instead, which SQLAlchemy answers by
        # discarding the pool's connections (see docs/operations.md).
        pool_pre_ping=settings.pool_pre_ping,
        connect_args=_connect_args(settings),
    )
    if settings.transaction_pooling and settings.statement_timeout_ms:
        event.listen(
            engine.sync_engine, "begin", _time_out_each_transaction(settings.statement_timeout_ms)
        )
    return engine


def create_replica_engine(
    settings: DatabaseSettings, replica_url: str, *, hide_parameters: bool = True
) -> AsyncEngine:
    """The engine of `DATABASE__REPLICA_URL`: the primary's pool settings, statement timeout and
    transaction pooling, and the replica's own, short connect timeout (an unreachable replica
    must cost a read little before it goes to the primary). Its sessions are read only per
    transaction (`app.core.replica`), not per connection: a startup parameter would be refused
    by a transaction pooler, as the statement timeout is."""
    quick = settings.model_copy(
        update={"connect_timeout_seconds": settings.replica_connect_timeout_seconds}
    )
    return create_engine(quick, url=replica_url, hide_parameters=hide_parameters)


def _connect_args(settings: DatabaseSettings) -> dict[str, Any]:
    """asyncpg's connection options. Behind a transaction pooler (PgBouncer, pool_mode=transaction)
    consecutive transactions of one connection may run on different server connections, each
    shared with other clients, so nothing may outlive a transaction on the server:

    - asyncpg's statement cache is off, which makes every statement it prepares unnamed. Named
      ones (`__asyncpg_stmt_1__`, numbered per client connection) would collide on a server
      connection that two clients share, and stay behind on it. An unnamed statement is replaced
      by the next one, and asyncpg sends it again with every execution (Parse, Bind and Execute
      in one round trip), so SQLAlchemy's own cache of described statements stays on.
    - The statement timeout is not a startup parameter (PgBouncer refuses to connect with one,
      since its server connections are shared): `_time_out_each_transaction` sets it instead.

    Proof: tests/core/test_transaction_pooling.py."""
    server_settings = {"application_name": "dependable"}
    arguments: dict[str, Any] = {
        "timeout": settings.connect_timeout_seconds,
        "server_settings": server_settings,
    }
    if settings.transaction_pooling:
        arguments["statement_cache_size"] = 0
    else:
        server_settings["statement_timeout"] = str(settings.statement_timeout_ms)
    return arguments


# Transaction-local (`true`): it ends with the transaction, like the tenant binding, so a server
# connection handed to another client keeps nothing. Driver SQL: no compiler on every begin.
SET_STATEMENT_TIMEOUT = "SELECT set_config('statement_timeout', $1, true)"


def _time_out_each_transaction(timeout_ms: int) -> Callable[[Connection], None]:
    """A `begin` listener: the statement timeout as each transaction's first statement (one round
    trip more per transaction, the price of transaction pooling; docs/deployment.md)."""
    value = str(timeout_ms)

    def set_timeout(connection: Connection) -> None:
        connection.exec_driver_sql(SET_STATEMENT_TIMEOUT, (value,))

    return set_timeout


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: loaded rows stay readable after the commit without another query.
    # autoflush=False: repositories flush explicitly, so SQL runs where the code says it does.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends normally, roll back when it raises.

    One exception to the rollback: an error marked `KeepsWrites` (app/core/errors.py) commits
    first and then propagates; if that commit fails, the commit's error propagates instead.

    The request dependencies (`get_session`, `get_request_context`) and the CLI all use this one
    definition. A session connects on its first statement, so a request that never touches
    PostgreSQL costs no round trip. Such a session (it never began: no transaction, nothing
    pending) is neither committed nor closed through the event loop: there is nothing to send
    or give back, and the two calls would cost some 70 us of greenlet switching per request.
    """
    session = factory()
    began = False
    try:
        try:
            yield session
        except Exception as error:
            began = _began(session)
            if isinstance(error, KeepsWrites):
                if began:
                    await _commit(session)  # a failed commit raises its own error instead
                raise
            discard_after_commit(session)
            await session.rollback()
            raise
        began = _began(session)
        if began:
            await _commit(session)
    finally:
        if began or session.in_transaction():
            await session.close()
        else:
            session.sync_session.close()  # it never held a connection: nothing to await


def _began(session: AsyncSession) -> bool:
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


async def _commit(session: AsyncSession) -> None:
    await session.commit()
    await run_after_commit(session)


AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once this session's transaction has committed (cache invalidation, events).

    Nothing runs if the transaction rolls back, so a failed write never invalidates or announces.
    `get_session` calls `run_after_commit` right after its commit.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The data is committed: a failed side effect is logged, not turned into an error.
            logger.exception("after-commit callback failed")


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def lock_key(name: str) -> int:
    """`name` as a key of PostgreSQL's advisory locks: 64 bits of its SHA-256."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], signed=True)


async def try_transaction_lock(session: AsyncSession, name: str) -> bool:
    """Take the advisory lock `name` until the session's transaction ends; False at once, and
    nothing taken, when another transaction holds it."""
    taken = await session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(name))))
    return bool(taken)


class UnsafeDatabaseRoleError(RuntimeError):
    """The application's database role is not bound by row-level security."""


# Why the role in DATABASE__URL would not be bound by the tenant_isolation policies: a superuser
# or BYPASSRLS role skips every policy, and a table's owner (or a member inheriting the owner's
# privileges) skips the policies of that table unless it is FORCEd.
_ROLE_RISKS = text(
    """
    SELECT r.rolname, r.rolsuper, r.rolbypassrls,
           ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.relrowsecurity AND NOT c.relforcerowsecurity
                   AND pg_has_role(current_user, c.relowner, 'USAGE')
                 ORDER BY c.relname) AS owned
    FROM pg_roles r WHERE r.rolname = current_user
    """
)


async def role_risks(engine: AsyncEngine) -> list[str]:
    """What lets the engine's role past row-level security (empty when nothing does)."""
    async with engine.connect() as connection:
        row = (await connection.execute(_ROLE_RISKS)).one()
    risks = ["is a superuser"] if row.rolsuper else []
    risks += ["has BYPASSRLS"] if row.rolbypassrls else []
    if row.owned and not row.rolsuper:
        risks.append(f"owns the tables {', '.join(row.owned)}")
    return [f"role {row.rolname!r} {risk}" for risk in risks]


async def verify_database_role(engine: AsyncEngine, *, refuse: bool, wait_seconds: float) -> None:
    """Check at startup that row-level security binds the app's role (docs/security.md).

    `refuse` (production, staging): raise `UnsafeDatabaseRoleError` when it does not, and also
    when the database cannot be asked within `wait_seconds`, because then nothing shows the second
    wall is up (the orchestrator restarts the process; startup never hangs). Otherwise (development,
    test): log a warning and carry on.
    """
    try:
        async with asyncio.timeout(wait_seconds):
            risks = await role_risks(engine)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        problem = f"could not check the database role ({type(error).__name__})"
        if refuse:
            raise UnsafeDatabaseRoleError(f"{problem}: refusing to start") from error
        logger.warning("%s; row-level security is unverified", problem)
        return
    if not risks:
        return
    message = (
        f"DATABASE__URL's {'; '.join(risks)}: row-level security does not bind it, so tenant "
        "isolation rests on the repositories alone. Connect as the unprivileged login role "
        "(docs/security.md, 'The database roles')."
    )
    if refuse:
        raise UnsafeDatabaseRoleError(message)
    logger.warning(message)


async def _maintenance_connection(url: str) -> tuple[asyncpg.Connection, str]:
    """A connection to `postgres` as the user `url` names, and the database `url` names."""
    target = make_url(url)
    admin = await asyncpg.connect(
        host=target.host,
        port=target.port,
        user=target.username,
        password=target.password,
        database="postgres",
    )
    return admin, str(target.database)


async def create_database_if_missing(url: str) -> bool:
    """Create the database `url` names, connecting as its user to `postgres` (admin tooling:
    `make migrate`, the test harness and the benchmark data generator; the app itself never
    creates one). True when it created it."""
    admin, database = await _maintenance_connection(url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
        return not exists
    finally:
        await admin.close()


async def drop_database_if_exists(url: str) -> None:
    """Drop the database `url` names, ending its sessions (admin tooling, as above)."""
    admin, database = await _maintenance_connection(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
