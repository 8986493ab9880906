"""`Idempotency-Key` on POST: replayed, not re-run; a different body under the same key is 422;
a duplicate while the first is running is 409; without the header nothing changes.

Item 5 of issue 10: a write never runs twice, whatever fails after its commit. The key's row
commits with the write in PostgreSQL; Redis failing to store the response, the lease expiring,
or Redis being flushed never lets a retry run it again. The races are in
`test_idempotency_races.py`."""

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select, update
from starlette.types import Message, Receive, Scope, Send

from app.core.db import SessionFactory
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.idempotency.cache import StoredResponse
from app.idempotency.dependencies import get_idempotency_store
from app.idempotency.models import IdempotencyKey
from app.idempotency.service import Claim, IdempotencyStore
from app.project.models import Project
from app.task.models import Task
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, tasks_url
from tests.fixtures.problems import assert_problem


async def count_projects(factory: SessionFactory, org: Org, name: str) -> int:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        statement = select(func.count()).select_from(Project).where(Project.name == name)
        return int(await session.scalar(statement) or 0)


async def count_tasks(factory: SessionFactory, org: Org, title: str) -> int:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        statement = select(func.count()).select_from(Task).where(Task.title == title)
        return int(await session.scalar(statement) or 0)


async def count_keys(factory: SessionFactory, org: Org) -> int:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        return int(await session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


async def age_keys(factory: SessionFactory, org: Org, seconds: int) -> None:
    """Move every key of `org` `seconds` into the past, as if that much time had passed."""
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        await session.execute(
            update(IdempotencyKey).values(
                created_at=IdempotencyKey.created_at - timedelta(seconds=seconds)
            )
        )
        await session.commit()


async def expire_redis_leases(redis: Redis) -> None:
    """The pending markers' 60-second lease ends (without waiting 60 seconds)."""
    for key in await redis.keys("idempotency:*"):
        await redis.delete(key)


def wrapping(
    provider: Callable[..., Awaitable[Any]], wrap: Callable[[Any], Any]
) -> Callable[..., Awaitable[Any]]:
    """An override for `provider` that takes the same dependencies and wraps what it returns
    (an override that depended on `provider` itself would be replaced by itself)."""

    # functools.wraps: FastAPI resolves the parameters of the signature it points at.
    @functools.wraps(provider)
    async def override(*args: Any, **kwargs: Any) -> Any:
        return wrap(await provider(*args, **kwargs))

    return override


class RedisThatCannotStoreResponses(Redis):
    """Redis blips exactly once per request: when the response is being stored."""

    async def set(self, name: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if '"state": "done"' in str(value):
            raise RedisConnectionError("Connection reset by peer")
        return await super().set(name, value, *args, **kwargs)


async def test_item5_a_write_never_runs_twice_when_storing_the_response_fails(
    app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, session_factory: SessionFactory
) -> None:
    """The reported reproduction: Redis fails right after the write commits, the pending
    lease expires, and the retry must not create a second task."""
    real: Resources = app.state.resources
    flaky = RedisThatCannotStoreResponses(connection_pool=real.redis.connection_pool)
    use_resources(app, redis=flaky)
    headers = {**acme.member.headers, "Idempotency-Key": "task-once"}

    first = await client.post(tasks_url(acme.project), json={"title": "Once"}, headers=headers)
    while_pending = await client.post(
        tasks_url(acme.project), json={"title": "Once"}, headers=headers
    )
    await expire_redis_leases(redis)
    after_lease = await client.post(
        tasks_url(acme.project), json={"title": "Once"}, headers=headers
    )

    assert await count_tasks(session_factory, acme, "Once") == 1
    assert first.status_code == 201
    for retry in (while_pending, after_lease):
        assert retry.status_code == 201
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == first.json()


class ResponsesAreLost(IdempotencyStore):
    """Neither PostgreSQL nor Redis takes the response (say the process dies there)."""

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        raise RedisConnectionError("Connection reset by peer")


def losing_responses(store: IdempotencyStore) -> IdempotencyStore:
    return ResponsesAreLost(store.keys, store.cache, store.session_factory, ttl_seconds=store.ttl)


@pytest.mark.overrides("a store whose complete() fails")
async def test_item5_a_committed_write_whose_response_was_lost_is_409_never_run_again(
    app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, session_factory: SessionFactory
) -> None:
    app.dependency_overrides[get_idempotency_store] = wrapping(
        get_idempotency_store, losing_responses
    )
    headers = {**acme.member.headers, "Idempotency-Key": "lost"}
    first = await client.post(tasks_url(acme.project), json={"title": "Lost"}, headers=headers)
    del app.dependency_overrides[get_idempotency_store]

    soon = await client.post(tasks_url(acme.project), json={"title": "Lost"}, headers=headers)
    await expire_redis_leases(redis)
    await age_keys(session_factory, acme, 61)  # past the lease: it will not be recorded now
    later = await client.post(tasks_url(acme.project), json={"title": "Lost"}, headers=headers)

    assert first.status_code == 201
    assert assert_problem(soon, 409)["type"].endswith("idempotency-in-flight")
    assert assert_problem(later, 409)["type"].endswith("idempotency-response-not-recorded")
    assert await count_tasks(session_factory, acme, "Lost") == 1


async def test_item5_the_response_is_replayed_from_postgresql_when_redis_lost_it(
    client: AsyncClient, acme: Org, redis: Redis, session_factory: SessionFactory
) -> None:
    headers = {**acme.member.headers, "Idempotency-Key": "flushed"}
    first = await client.post(tasks_url(acme.project), json={"title": "Kept"}, headers=headers)
    await redis.flushdb()  # a restart without persistence, an eviction, a failover

    again = await client.post(tasks_url(acme.project), json={"title": "Kept"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert await count_tasks(session_factory, acme, "Kept") == 1


async def test_item5_a_key_older_than_the_ttl_is_free_again(
    client: AsyncClient,
    acme: Org,
    redis: Redis,
    session_factory: SessionFactory,
    app: FastAPI,
) -> None:
    ttl = app.state.settings.idempotency.ttl_seconds
    headers = {**acme.member.headers, "Idempotency-Key": "daily"}
    first = await client.post(tasks_url(acme.project), json={"title": "Daily"}, headers=headers)
    await redis.flushdb()  # its Redis copy expires with the same TTL
    await age_keys(session_factory, acme, ttl - 5)
    within = await client.post(tasks_url(acme.project), json={"title": "Daily"}, headers=headers)
    await redis.flushdb()
    await age_keys(session_factory, acme, 10)  # now ttl + 5 seconds old

    after = await client.post(tasks_url(acme.project), json={"title": "Daily"}, headers=headers)

    assert (first.status_code, within.status_code, after.status_code) == (201, 201, 201)
    assert within.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in after.headers
    assert after.json()["id"] != first.json()["id"]
    assert await count_tasks(session_factory, acme, "Daily") == 2
    assert await count_keys(session_factory, acme) == 1  # taken over, not duplicated


async def test_replay_returns_the_stored_response_and_creates_nothing(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    headers = {**acme.member.headers, "Idempotency-Key": "create-launch-1"}

    first = await client.post(PROJECTS, json={"name": "Launch"}, headers=headers)
    again = await client.post(PROJECTS, json={"name": "Launch"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert await count_projects(session_factory, acme, "Launch") == 1


async def test_a_retry_the_moment_the_response_is_complete_is_replayed(
    app: FastAPI, client: AsyncClient, acme: Org
) -> None:
    """A client that has the whole response may retry at once, on another replica behind a
    balancer (tests/scale): the response must be stored by then, or the retry is a 409 for a
    request that, as far as the client can tell, has finished. The retry is sent from inside
    the first response's last `send`, the moment its last byte would leave."""
    headers = {**acme.member.headers, "Idempotency-Key": "retried-at-once"}
    retries: list[Response] = []

    async def retry_at_the_last_byte(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                retries.append(await client.post(PROJECTS, json={"name": "Once"}, headers=headers))
            await send(message)

        await app(scope, receive, sending)

    transport = ASGITransport(app=retry_at_the_last_byte)
    async with AsyncClient(transport=transport, base_url="http://test") as first_client:
        first = await first_client.post(PROJECTS, json={"name": "Once"}, headers=headers)

    assert first.status_code == 201
    assert [retry.status_code for retry in retries] == [201]
    assert retries[0].headers["idempotent-replayed"] == "true"
    assert retries[0].json() == first.json()


async def test_same_key_with_a_different_body_is_422(client: AsyncClient, acme: Org) -> None:
    headers = {**acme.member.headers, "Idempotency-Key": "k-1"}
    assert (await client.post(PROJECTS, json={"name": "A"}, headers=headers)).status_code == 201

    response = await client.post(PROJECTS, json={"name": "B"}, headers=headers)

    assert assert_problem(response, 422)["type"].endswith("idempotency-key-reused")


async def test_keys_are_scoped_to_the_user(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    mine = await client.post(
        PROJECTS, json={"name": "Mine"}, headers={**acme.member.headers, **key}
    )
    theirs = await client.post(
        PROJECTS, json={"name": "Theirs"}, headers={**acme.admin.headers, **key}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers


async def test_without_the_header_nothing_changes(client: AsyncClient, acme: Org) -> None:
    first = await client.post(PROJECTS, json={"name": "Twice"}, headers=acme.member.headers)
    second = await client.post(PROJECTS, json={"name": "Twice"}, headers=acme.member.headers)
    assert (first.status_code, second.status_code) == (201, 409)


@pytest.mark.overrides("a project service that fails")
async def test_a_failed_request_releases_its_key(
    app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, session_factory: SessionFactory
) -> None:
    from app.project.dependencies import get_project_service

    async def broken() -> None:
        raise RuntimeError("database on fire")

    headers = {**acme.member.headers, "Idempotency-Key": "retry-me"}
    app.dependency_overrides[get_project_service] = broken
    assert (await client.post(PROJECTS, json={"name": "R"}, headers=headers)).status_code == 500
    assert await redis.keys("idempotency:*") == []
    assert await count_keys(session_factory, acme) == 0  # rolled back with the write

    del app.dependency_overrides[get_project_service]
    assert (await client.post(PROJECTS, json={"name": "R"}, headers=headers)).status_code == 201


async def test_same_key_on_another_path_is_not_a_replay(
    client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
) -> None:
    """Tasks of two projects share a route template; the key must not replay across them."""
    other = await client.post(PROJECTS, json={"name": "Other"}, headers=acme.member.headers)
    headers = {**acme.member.headers, "Idempotency-Key": "task-1"}
    first = await client.post(tasks_url(acme.project), json={"title": "T"}, headers=headers)
    second = await client.post(
        f"{PROJECTS}/{other.json()['id']}/tasks", json={"title": "T"}, headers=headers
    )
    assert first.status_code == 201
    assert_problem(second, 422)
