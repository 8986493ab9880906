"""`DATABASE__TRANSACTION_POOLING`: the app's engine behind PgBouncer in transaction mode, where
one client connection's transactions run on whichever server connection is free, and each server
connection serves many clients in turn (app/core/db.py, `_connect_args`).

Each test starts its own PgBouncer in front of the test database, with a pool small enough that
what one client leaves on a server connection is what the next one finds."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.core.config import DatabaseSettings, Settings
from app.core.db import create_engine, create_session_factory
from app.core.tenancy import act_for_tenant
from tests.fixtures.pgbouncer import login_of, pgbouncer, server_connection_setting, through

# The test database exists and is migrated; `make scale-test` runs this with tests/scale.
pytestmark = [pytest.mark.usefixtures("engine"), pytest.mark.scale]

BACKEND = text("SELECT pg_backend_pid(), CAST(:n AS int) + 1")


@pytest.fixture
async def pooled_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """The app role's URL through a PgBouncer of its own with two server connections."""
    async with pgbouncer(
        tmp_path / "pgbouncer",
        server_url=settings.database.url,
        users=login_of(settings.database.url),
        pool_size=2,
    ) as port:
        yield through(settings.database.url, port)


@pytest.fixture
async def pooled_engine(pooled_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        DatabaseSettings(url=pooled_url, transaction_pooling=True, statement_timeout_ms=300)
    )
    yield engine
    await engine.dispose()


async def pin_a_server_connection(url: str) -> asyncpg.Connection:
    """Another client, in a transaction: it holds the server connection the pooler hands it (the
    one released last) until it is closed."""
    target = make_url(url)
    client = await asyncpg.connect(
        host=target.host,
        port=target.port,
        user=target.username,
        password=target.password,
        database=target.database,
        statement_cache_size=0,
    )
    await client.execute("BEGIN")
    return client


async def run_on_two_server_connections(engine: AsyncEngine, url: str) -> tuple[int, int]:
    """The same statement in two transactions of one client connection, the second on another
    server connection (the first is taken by someone else meanwhile); the backends that ran it."""
    async with engine.connect() as connection:
        first = (await connection.execute(BACKEND, {"n": 1})).one()[0]
        await connection.commit()
        other = await pin_a_server_connection(url)
        try:
            second = (await connection.execute(BACKEND, {"n": 2})).one()[0]
            await connection.commit()
        finally:
            await other.close()
    return first, second


class TestPreparedStatements:
    async def test_a_connection_moves_between_server_connections(
        self, pooled_engine: AsyncEngine, pooled_url: str
    ) -> None:
        first, second = await run_on_two_server_connections(pooled_engine, pooled_url)
        assert first != second

    async def test_named_prepared_statements_do_not_survive_the_move(self, pooled_url: str) -> None:
        """Why the setting exists: asyncpg's defaults (a named statement per query, cached)
        prepare on one server connection and execute on another."""
        naive = create_async_engine(pooled_url)
        try:
            with pytest.raises(DBAPIError, match=r"prepared statement .* does not exist"):
                await run_on_two_server_connections(naive, pooled_url)
        finally:
            await naive.dispose()


class TestStatementTimeout:
    async def test_it_holds_in_every_transaction(self, pooled_engine: AsyncEngine) -> None:
        async with pooled_engine.connect() as connection:
            for _ in range(2):
                with pytest.raises(DBAPIError, match="statement timeout"):
                    await connection.execute(text("SELECT pg_sleep(2)"))
                await connection.rollback()

    async def test_it_is_left_on_no_server_connection(
        self, pooled_engine: AsyncEngine, pooled_url: str
    ) -> None:
        async with pooled_engine.connect() as connection:
            assert await connection.scalar(text("SHOW statement_timeout")) == "300ms"
            await connection.commit()
        assert await server_connection_setting(pooled_url, "statement_timeout") == "0"

    async def test_without_the_setting_the_pooler_refuses_the_connection(
        self, pooled_url: str
    ) -> None:
        """Forgetting DATABASE__TRANSACTION_POOLING fails at the first connection, not later:
        the timeout as a startup parameter would be set on a server connection others share."""
        engine = create_engine(DatabaseSettings(url=pooled_url))
        try:
            with pytest.raises(DBAPIError, match="unsupported startup parameter"):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()


class TestTenantBinding:
    async def test_it_ends_with_the_transaction(
        self, pooled_engine: AsyncEngine, pooled_url: str
    ) -> None:
        tenant_id = uuid.uuid4()
        async with create_session_factory(pooled_engine)() as session:
            await act_for_tenant(session, tenant_id)
            bound = await session.scalar(text("SELECT current_setting('app.tenant_id')"))
            await session.commit()
        assert bound == str(tenant_id)
        assert await server_connection_setting(pooled_url, "app.tenant_id") in (None, "")

    async def test_a_session_level_setting_would_reach_the_next_client(
        self, pooled_engine: AsyncEngine, pooled_url: str
    ) -> None:
        """The check above can see a leak: `set_config(..., false)` (or a plain `SET`) stays
        on the server connection and the next client of the pooler finds it."""
        leaked = str(uuid.uuid4())
        async with pooled_engine.connect() as connection:
            await set_for_the_session(connection, leaked)
        assert await server_connection_setting(pooled_url, "app.tenant_id") == leaked


async def set_for_the_session(connection: AsyncConnection, value: str) -> None:
    await connection.execute(
        text("SELECT set_config('app.tenant_id', :value, false)"), {"value": value}
    )
    await connection.commit()
