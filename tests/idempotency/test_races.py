"""Item 5 of issue 10, the races: two requests with one `Idempotency-Key` at once never both
run the write (here the users' create).

These need two real transactions on two connections (on the tests' one rolled-back connection
the second request would see the first's uncommitted row), so they run against the app's own
committing sessions, on a tenant created for the test and deleted afterwards. The first request
is held right after claiming its key, inside its open transaction (an override of the store
provider, released by an `asyncio.Event`); the second is sent while it waits there.
"""

import asyncio
import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.resources import Resources
from app.idempotency.cache import StoredResponse
from app.idempotency.dependencies import get_idempotency_store
from app.idempotency.service import Claim, IdempotencyStore
from tests.fixtures.app import unreachable_redis, use_redis
from tests.fixtures.auth import Org
from tests.fixtures.factories import create_org
from tests.fixtures.paths import USERS
from tests.fixtures.problems import assert_problem


@dataclasses.dataclass
class Gate:
    """Where the first request waits: after its claim (until `go`), and before recording its
    response (until `record`)."""

    claimed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    go: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    record: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    fail_first: bool = False
    first: Claim | None = None

    async def wait_until_claimed(self) -> None:
        """Until the first request holds its claim; fails after 10 s (a route that takes no
        key never gets there)."""
        async with asyncio.timeout(10):
            await self.claimed.wait()


class HeldStore(IdempotencyStore):
    gate: Gate

    async def begin(self, *, scope: str, key: str, fingerprint: str) -> Claim | StoredResponse:
        outcome = await super().begin(scope=scope, key=key, fingerprint=fingerprint)
        if isinstance(outcome, Claim) and self.gate.first is None:
            self.gate.first = outcome
            self.gate.claimed.set()
            await self.gate.go.wait()
            if self.gate.fail_first:
                raise RuntimeError("the first request fails before its write commits")
        return outcome

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        if claim is self.gate.first:
            await self.gate.record.wait()
        await super().complete(claim, response)


def held(gate: Gate) -> Callable[..., Awaitable[IdempotencyStore]]:
    """An override of `get_idempotency_store` with its dependencies, returning a HeldStore."""

    # functools.wraps: FastAPI resolves the parameters of the signature it points at.
    @functools.wraps(get_idempotency_store)
    async def override(*args: Any, **kwargs: Any) -> IdempotencyStore:
        store = await get_idempotency_store(*args, **kwargs)
        wrapped = HeldStore(store.keys, store.cache, store.session_factory, ttl_seconds=store.ttl)
        wrapped.gate = gate
        return wrapped

    return override


@dataclasses.dataclass
class Live:
    app: FastAPI
    client: AsyncClient
    org: Org
    owner: AsyncEngine
    database: str

    def add_user(self, email: str, key: str) -> Coroutine[Any, Any, Response]:
        """POST /users as the tenant's admin: a member with `email`, under `key`."""
        body = {"email": email, "password": "a long enough password", "full_name": "R"}
        headers = {**self.org.admin.headers, "Idempotency-Key": key}
        return self.client.post(USERS, json={**body, "role": "member"}, headers=headers)

    async def count_users(self, email: str) -> int:
        async with self.owner.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM users WHERE tenant_id = :t AND email = :email"),
                {"t": self.org.tenant.id, "email": email},
            )
        return int(found or 0)

    async def a_duplicate_waiting_on_the_first(
        self, gate: Gate, email: str, key: str
    ) -> tuple["asyncio.Task[Response]", "asyncio.Task[Response]"]:
        """The first request, held after its claim, and a duplicate whose claim waits on the
        first's uncommitted row; then the first is let go (to commit, or to fail if the gate
        says so). Both still running."""
        self.app.dependency_overrides[get_idempotency_store] = held(gate)
        first = asyncio.create_task(self.add_user(email, key))
        await gate.wait_until_claimed()
        second = asyncio.create_task(self.add_user(email, key))
        await self.wait_until_a_claim_waits_on_a_lock()
        gate.go.set()
        return first, second

    async def wait_until_a_claim_waits_on_a_lock(self) -> None:
        """Until another backend is blocked inserting into idempotency_keys (the second
        request, waiting on the first's uncommitted row). Polls a condition; fails after 10 s."""
        for _ in range(1000):
            async with self.owner.connect() as connection:
                waiting = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                        "AND wait_event_type = 'Lock' AND query LIKE '%idempotency_keys%'"
                    ),
                    {"db": self.database},
                )
            if waiting:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the second request never waited on the first one's claim")


@pytest.fixture
async def live(
    app_instance: FastAPI, settings: Settings, password_hash: str, redis: Redis
) -> AsyncIterator[Live]:
    """The app with its real, committing sessions, and a committed tenant deleted afterwards
    (cascading to its users and keys)."""
    resources: Resources = app_instance.state.resources
    slug = f"idem-{uuid.uuid4().hex[:12]}"
    org = await create_org(app_instance, resources.session_factory, slug, password_hash)
    owner = create_async_engine(settings.database.owner_url, poolclass=NullPool)
    database = make_url(settings.database.url).database or ""
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app_instance), base_url="http://test"
        ) as client:
            yield Live(app_instance, client, org, owner, database)
    finally:
        app_instance.dependency_overrides.clear()
        app_instance.state.resources = resources
        async with owner.begin() as connection:
            await connection.execute(
                text("DELETE FROM tenants WHERE id = :id"), {"id": org.tenant.id}
            )
        await owner.dispose()


@pytest.fixture
async def live_redis_down(live: Live) -> AsyncIterator[None]:
    """Redis unreachable for the whole app: PostgreSQL alone settles every race."""
    unreachable = unreachable_redis()
    use_redis(live.app, unreachable)  # `live` puts the real resources back
    yield
    await unreachable.aclose()


async def test_item5_a_concurrent_duplicate_is_409_at_once_while_the_first_runs(live: Live) -> None:
    """Redis up: the duplicate sees the pending marker (and no committed row) and is refused."""
    gate = Gate()
    gate.record.set()
    live.app.dependency_overrides[get_idempotency_store] = held(gate)

    first = asyncio.create_task(live.add_user("raced@race.example.com", "race-1"))
    await gate.wait_until_claimed()
    second = await live.add_user("raced@race.example.com", "race-1")
    gate.go.set()
    first_response = await first
    replay = await live.add_user("raced@race.example.com", "race-1")

    assert assert_problem(second, 409)["type"].endswith("idempotency-in-flight")
    assert first_response.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first_response.json()
    assert await live.count_users("raced@race.example.com") == 1


async def test_item5_without_redis_the_unique_index_settles_a_concurrent_duplicate(
    live: Live, live_redis_down: None
) -> None:
    """The duplicate's claim waits on the first's uncommitted row; once that commits, the key
    is taken: the duplicate is 409 (the first's response is not recorded yet), never a run."""
    gate = Gate()
    # The first commits; the second's claim finds the key taken.
    email = "indexed@race.example.com"
    first, second = await live.a_duplicate_waiting_on_the_first(gate, email, "race-2")
    second_response = await second
    gate.record.set()
    first_response = await first
    replay = await live.add_user(email, "race-2")

    # The key's 409, not the email's: the duplicate never ran the create.
    assert assert_problem(second_response, 409)["type"].endswith("idempotency-in-flight")
    assert first_response.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first_response.json()
    assert await live.count_users(email) == 1


async def test_item5_a_rolled_back_first_request_lets_the_waiting_duplicate_run(
    live: Live, live_redis_down: None
) -> None:
    """A failed first request leaves no key: the duplicate waiting on it runs the write."""
    gate = Gate(fail_first=True)
    gate.record.set()
    # The first raises and rolls back; the second's claim goes ahead.
    email = "retried@race.example.com"
    first, second = await live.a_duplicate_waiting_on_the_first(gate, email, "race-3")
    first_response, second_response = await first, await second

    assert first_response.status_code == 500
    assert second_response.status_code == 201
    assert "idempotent-replayed" not in second_response.headers
    assert await live.count_users(email) == 1
