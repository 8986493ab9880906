"""/health/live and /health/ready, with real outages: a closed port (refused) and a silent
server (accepts, never answers), swapped into the app's resources."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import DatabaseSettings, RedisSettings
from app.core.db import SessionFactory, create_engine, create_session_factory
from app.core.redis import create_redis_client, create_redis_pool
from tests.fixtures.app import use_redis, use_resources
from tests.fixtures.ports import never_answer
from tests.fixtures.settings import TEST_DATABASE_URL


@pytest.fixture(params=["refused", "silent"])
async def dead_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    """A port where a server refuses connections (nothing listens), or accepts them and then
    never says a word (a hung server: only timeouts protect the caller)."""
    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    if request.param == "refused":
        server.close()
        await server.wait_closed()
    yield port
    server.close()


def redis_at(port: int) -> Redis:
    return create_redis_client(create_redis_pool(RedisSettings(url=f"redis://127.0.0.1:{port}/0")))


def database_at(port: int) -> tuple[AsyncEngine, SessionFactory]:
    url = make_url(TEST_DATABASE_URL).set(host="127.0.0.1", port=port)
    settings = DatabaseSettings(url=url.render_as_string(hide_password=False))
    # A connect timeout longer than the check's own, so the test proves the check bounds the wait.
    engine = create_engine(settings.model_copy(update={"connect_timeout_seconds": 5.0}))
    return engine, create_session_factory(engine)


async def test_live_is_ok(client: AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_everything_is_up(client: AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "up",
        "migrations": "up",
        "redis": "up",
    }


async def test_redis_down_is_degraded_but_ready(
    app: FastAPI, client: AsyncClient, dead_port: int
) -> None:
    broken = redis_at(dead_port)
    use_redis(app, broken)

    response = await client.get("/health/ready")
    await broken.aclose()

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "up"
    # Refused at once, or cut off by the 0.25 s socket timeout: never waiting on the server.
    assert body["checks"]["redis"]["detail"] in {"ConnectionError", "TimeoutError"}


async def test_database_down_is_503_naming_it(
    app: FastAPI, client: AsyncClient, dead_port: int, request: pytest.FixtureRequest
) -> None:
    engine, factory = database_at(dead_port)
    use_resources(app, session_factory=factory)

    response = await client.get("/health/ready")
    await engine.dispose()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["migrations"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "up"
    # A hung server is cut off by the check's own timeout (HEALTH__CHECK_TIMEOUT_SECONDS, 1.5 s),
    # not by the 5 s connect timeout configured above.
    kind = request.node.callspec.params["dead_port"]
    expected = "timed out" if kind == "silent" else "ConnectionRefusedError"
    assert body["checks"]["database"]["detail"] == expected


async def test_database_behind_the_migration_head_is_503(app: FastAPI, client: AsyncClient) -> None:
    use_resources(app, migration_heads=frozenset({"a-newer-revision"}))

    response = await client.get("/health/ready")

    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["status"] == "down"
    assert "a-newer-revision" in migrations["detail"]


async def test_database_ahead_of_the_code_is_ready(app: FastAPI, client: AsyncClient) -> None:
    """A newer release has migrated (expand, then contract): this release still serves, and
    stays in the Service during a rolling update or after a rollback."""
    older = frozenset({"an-older-revision"})
    use_resources(app, migration_heads=older, migration_revisions=older)

    response = await client.get("/health/ready")

    assert response.status_code == 200
    migrations = response.json()["checks"]["migrations"]
    assert migrations["status"] == "up"
    assert "ahead of this code" in migrations["detail"]
