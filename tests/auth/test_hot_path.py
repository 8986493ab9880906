"""The authenticated hot path (issue 9): once the caller is cached, a request that needs nothing
else from PostgreSQL opens no transaction and sends no statement, and authentication costs one
Redis round trip (denylist, principal and tenant in one pipeline). Counted on the wire: SQL
statements on the test's connection, and commands sent to Redis (a pipeline is one send)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import AsyncClient
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.auth import Org


class Wire:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.redis_sends = 0


@contextmanager
def on_the_wire(connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    wire = Wire()

    def statement(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        # Not the app's: the harness's savepoints, and its unsetting of the tenant when a
        # session closes (tests/fixtures/database.py).
        if "SAVEPOINT" in sql or (parameters and "" in tuple(parameters)):
            return
        wire.statements.append(sql)

    real_send = AbstractConnection.send_packed_command

    async def send(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        wire.redis_sends += 1
        await real_send(self, *args, **kwargs)

    engine = connection.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", send)
        try:
            yield wire
        finally:
            event.remove(engine, "before_cursor_execute", statement)


async def test_a_cached_caller_costs_one_redis_round_trip_and_no_sql(
    client: AsyncClient, acme: Org, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
):
    first = await client.get("/api/v1/users/me", headers=acme.member.headers)  # fills the cache
    assert first.status_code == 200

    with on_the_wire(connection, monkeypatch) as wire:
        again = await client.get("/api/v1/users/me", headers=acme.member.headers)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert wire.statements == []
    assert wire.redis_sends == 1


async def test_a_cache_miss_reads_postgresql_once_per_missing_entry_then_fills_in_one_trip(
    client: AsyncClient, acme: Org, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
):
    with on_the_wire(connection, monkeypatch) as wire:
        response = await client.get("/api/v1/users/me", headers=acme.member.headers)

    assert response.status_code == 200
    # The tenant binding, then the user and the tenant.
    queries = wire.statements
    assert len(queries) == 3, queries
    assert "set_config" in queries[0]
    # The snapshot pipeline, then one pipeline filling both entries.
    assert wire.redis_sends == 2
