"""Redis unreachable or hung, on the users' routes: the app keeps serving from PostgreSQL (the
principal, the token's revocation, the users), logs the outage once per interval, and the circuit
(`RedisCircuit`, app/core/redis.py; `Cooldown`, app/core/cooldown.py) lets no request but the
first wait on a Redis that accepts connections and never answers. (Readiness with Redis down:
tests/health/test_router.py.)

The suite's app with its Redis swapped (`redis_down`, `use_redis`: tests/fixtures/app.py), not a
server of its own: a Redis that dies under a running app is tests/faults/test_redis_crash.py."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response

from app.core.config import RedisSettings
from app.core.redis import RedisCircuit, create_redis_client, create_redis_pool
from app.core.resources import Resources
from tests.fixtures.app import use_redis
from tests.fixtures.auth import PASSWORD, Org
from tests.fixtures.paths import ME, TOKEN, USERS
from tests.fixtures.ports import never_answer


async def login(client: AsyncClient, org: Org) -> Response:
    """A real login of the org's member: its rate limits are Redis counters."""
    return await client.post(
        TOKEN,
        data={"username": org.member.user.email, "password": PASSWORD},
        headers={"X-Tenant": org.tenant.slug},
    )


async def users_routes(client: AsyncClient, org: Org) -> list[int]:
    """The statuses of a round of the users' routes: each authenticates (the principal and the
    denylist in Redis), and the login counts against its limits."""
    responses = [
        await client.get(ME, headers=org.viewer.headers),
        await client.get(USERS, headers=org.admin.headers),
        await login(client, org),
    ]
    return [response.status_code for response in responses]


async def test_reads_writes_and_logins_still_work(
    client: AsyncClient, acme: Org, redis_down: Resources
) -> None:
    body = {"email": "offline@acme.example.com", "password": "a long enough password"}
    created = await client.post(
        USERS, json={**body, "full_name": "O", "role": "member"}, headers=acme.admin.headers
    )
    changed = await client.patch(
        f"{USERS}/{created.json()['id']}", json={"role": "viewer"}, headers=acme.admin.headers
    )
    listed = await client.get(USERS, headers=acme.admin.headers)

    assert (created.status_code, changed.status_code, listed.status_code) == (201, 200, 200)
    assert "offline@acme.example.com" in {user["email"] for user in listed.json()}
    assert await users_routes(client, acme) == [200, 200, 200]


@pytest.fixture
def circuit(app_instance: FastAPI) -> RedisCircuit:
    """The app's circuit (process-wide), without the failures and log lines of earlier tests."""
    circuit: RedisCircuit = app_instance.state.resources.redis_circuit
    circuit.cooldown.reset()
    return circuit


async def test_the_outage_is_logged_once_per_interval_not_per_request(
    client: AsyncClient,
    acme: Org,
    redis_down: Resources,
    circuit: RedisCircuit,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.redis"):
        for _ in range(2):
            assert await users_routes(client, acme) == [200, 200, 200]
    assert len([r for r in caplog.records if r.name == "app.redis"]) == 1


@pytest.fixture
async def hung_redis(app: FastAPI) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """A Redis that accepts connections and never answers, swapped into the app; yields the
    connections it accepted."""
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await never_answer(reader, writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = create_redis_client(create_redis_pool(RedisSettings(url=f"redis://127.0.0.1:{port}/0")))
    use_redis(app, hung)
    yield accepted
    server.close()
    await hung.aclose()


async def test_the_circuit_stops_requests_waiting_on_a_hung_redis(
    client: AsyncClient,
    acme: Org,
    hung_redis: list[asyncio.StreamWriter],
    circuit: RedisCircuit,
) -> None:
    """A Redis that accepts connections and never answers costs each call the socket timeout.
    After the first failure the circuit opens: later requests skip Redis at once."""
    circuit.cooldown.seconds = 30.0
    try:
        statuses = [await users_routes(client, acme) for _ in range(3)]
    finally:
        circuit.cooldown.seconds = 0.0
        circuit.cooldown.reset()

    assert statuses == [[200, 200, 200]] * 3
    # Only the first call reached the hung server (and waited its 0.25 s socket timeout);
    # every later principal, denylist and rate-limit call took its fallback at once.
    assert len(hung_redis) == 1
