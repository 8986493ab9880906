"""Redis unreachable (a closed port, swapped into the app's resources): reads and writes still
work from PostgreSQL, and nothing waits longer than the Redis socket timeout. Idempotency keys
without Redis: tests/idempotency/test_http.py."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis

from app.core.config import RedisSettings
from app.core.redis import create_redis_client, create_redis_pool
from tests.fixtures.app import use_redis
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, project_url
from tests.fixtures.ports import never_answer


@pytest.fixture
async def redis_down(app: FastAPI) -> AsyncIterator[Redis]:
    unreachable = create_redis_client(
        create_redis_pool(RedisSettings(url="redis://127.0.0.1:1/0", socket_timeout_seconds=0.25))
    )
    use_redis(app, unreachable)
    yield unreachable
    await unreachable.aclose()


async def test_reads_and_writes_still_work(
    client: AsyncClient, acme: Org, redis_down: Redis
) -> None:
    created = await client.post(PROJECTS, json={"name": "Offline"}, headers=acme.member.headers)
    read = await client.get(f"{PROJECTS}/{created.json()['id']}", headers=acme.viewer.headers)
    listed = await client.get(PROJECTS, headers=acme.viewer.headers)
    patched = await client.patch(
        f"{PROJECTS}/{created.json()['id']}",
        json={"name": "Still offline"},
        headers={**acme.member.headers, "If-Match": read.headers["etag"]},
    )

    assert (created.status_code, read.status_code, listed.status_code) == (201, 200, 200)
    assert patched.status_code == 200
    assert read.json()["name"] == "Offline"


async def test_readiness_reports_it(client: AsyncClient, redis_down: Redis) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "degraded"


async def test_the_outage_is_logged_once_per_interval_not_per_request(
    client: AsyncClient,
    acme: Org,
    redis_down: Redis,
    caplog: pytest.LogCaptureFixture,
    app_instance: FastAPI,
) -> None:
    # The circuit is process-wide: forget any outage an earlier test logged in this interval.
    app_instance.state.resources.redis_circuit.cooldown.reset()
    path = project_url(acme.project)
    with caplog.at_level(logging.WARNING, logger="app.redis"):
        for _ in range(5):
            assert (await client.get(path, headers=acme.viewer.headers)).status_code == 200
    assert len([r for r in caplog.records if r.name == "app.redis"]) == 1


async def test_the_circuit_stops_requests_waiting_on_a_hung_redis(
    app: FastAPI, app_instance: FastAPI, client: AsyncClient, acme: Org
) -> None:
    """A Redis that accepts connections and never answers costs each call the socket timeout.
    After the first failure the circuit opens: later requests skip Redis at once."""
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await never_answer(reader, writer)

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = create_redis_client(create_redis_pool(RedisSettings(url=f"redis://127.0.0.1:{port}/0")))
    circuit = app_instance.state.resources.redis_circuit
    use_redis(app, hung)
    circuit.cooldown.seconds = 30.0
    try:
        path = project_url(acme.project)
        statuses = [
            (await client.get(path, headers=acme.viewer.headers)).status_code for _ in range(5)
        ]
    finally:
        circuit.cooldown.seconds = 0.0
        circuit.cooldown.reset()
        server.close()
        await hung.aclose()

    assert statuses == [200] * 5
    # Only the first call reached the hung server (and waited its 0.25 s socket timeout);
    # every later cache, denylist and rate-limit call took its fallback at once.
    assert connections == 1
