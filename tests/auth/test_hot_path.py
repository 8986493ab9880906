"""The authenticated hot path (issue 9): once the caller is cached, a request that needs nothing
else from PostgreSQL opens no transaction and sends no statement, and authentication costs one
Redis round trip (denylist, principal and tenant in one pipeline). Counted on the wire: SQL
statements on the test's connection, and commands sent to Redis (a pipeline is one send)."""

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.auth import Org
from tests.fixtures.wire import on_the_wire


async def test_a_cached_caller_costs_one_redis_round_trip_and_no_sql(
    client: AsyncClient, acme: Org, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
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
) -> None:
    with on_the_wire(connection, monkeypatch) as wire:
        response = await client.get("/api/v1/users/me", headers=acme.member.headers)

    assert response.status_code == 200
    # The tenant binding, then the user and the tenant.
    queries = wire.statements
    assert len(queries) == 3, queries
    assert "set_config" in queries[0]
    # The snapshot pipeline, then one pipeline filling both entries.
    assert wire.redis_sends == 2
