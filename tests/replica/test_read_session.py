"""`ReadSessionDep` without a streaming replica: with none configured it is the request's own
session (the same object, so the same connection: a read path costs what it did), READ ONLY all
the same; a replica that never answers costs one timeout, then the circuit skips it."""

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.auth.context import acting_as
from app.auth.dependencies import ReadSessionDep, get_request_context
from app.core.config import DatabaseSettings
from app.core.db import SessionFactory
from app.core.metrics import AppMetrics
from app.core.replica import read_replica, writer_key
from app.core.resources import Resources
from app.core.tenancy import TenantReadSession, read_only
from app.http.outside_request import resolved
from app.identity.schemas import Principal, TenantRead
from app.user.dependencies import get_user_reader
from app.user.schemas import UserCreate
from tests.fixtures.auth import Org
from tests.fixtures.ports import never_answer

NOT_ON_A_READ_PATH = UserCreate.model_validate(
    {
        "email": "not-on-a-read-path@acme.example.com",
        "password": "a long enough password",
        "full_name": "Not On A Read Path",
    }
)


async def read_path(session: ReadSessionDep) -> TenantReadSession:
    """A read route's provider, reduced to what it is handed."""
    return session


async def test_without_a_replica_the_read_session_is_the_requests_own(
    app: FastAPI, session_factory: SessionFactory, acme: Org
) -> None:
    resources: Resources = app.state.resources
    assert resources.replica is None
    async with session_factory() as session:
        read_only(session)  # what `get_request_context` does for a GET
        context = await acting_as(
            Principal.model_validate(acme.viewer.user),
            TenantRead.model_validate(acme.tenant),
            session,
            resources,
        )
        async with resolved(read_path, given={get_request_context: context}) as read:
            same: object = read  # one object under two types
            assert same is context.session
            assert await read.scalar(text("SHOW transaction_read_only")) == "on"


async def test_a_write_through_a_reader_fails(
    app: FastAPI, session_factory: SessionFactory, acme: Org
) -> None:
    """A read route's service, asked to write by mistake: PostgreSQL refuses it (the READ ONLY
    transaction), on the primary as on a replica, so the mistake fails every test of the route."""
    resources: Resources = app.state.resources
    async with session_factory() as session:
        read_only(session)
        context = await acting_as(
            Principal.model_validate(acme.admin.user),
            TenantRead.model_validate(acme.tenant),
            session,
            resources,
        )
        given = {get_request_context: context}
        async with resolved(get_user_reader, given=given) as users:
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await users.create(NOT_ON_A_READ_PATH)


async def test_a_hung_replica_costs_one_timeout_then_the_circuit_skips_it(
    app: FastAPI, acme: Org
) -> None:
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await never_answer(reader, writer)

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resources: Resources = app.state.resources
    settings = DatabaseSettings(
        url=resources.settings.database.url,
        replica_url=f"postgresql+asyncpg://dependable_api@127.0.0.1:{port}/hung",
        replica_connect_timeout_seconds=0.2,
        replica_circuit_cooldown_seconds=3600,
    )
    metrics = AppMetrics()
    replica = read_replica(settings, redis_circuit=resources.redis_circuit, metrics=metrics)
    assert replica is not None
    reader = writer_key(acme.tenant.id, acme.viewer.user.id)
    try:
        for _ in range(3):
            async with replica.session(acme.tenant.id, reader, resources.redis) as session:
                assert session is None  # read on the primary
    finally:
        server.close()
        await replica.engine.dispose()
    assert connections == 1  # the first read waited out the timeout; the others skipped it
    down = metrics.registry.get_sample_value(
        "db_read_sessions_total", {"server": "primary", "reason": "replica_down"}
    )
    assert down == 3
