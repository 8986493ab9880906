"""`Idempotency-Key` on POST: replayed, not re-run; a different body under the same key is 422;
a duplicate while the first is running is 409; without the header nothing changes."""

import json

from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.project.models import Project
from tests.fixtures.auth import Org
from tests.problems import assert_problem

PROJECTS = "/api/v1/projects"


async def count_projects(factory: SessionFactory, org: Org, name: str) -> int:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        statement = select(func.count()).select_from(Project).where(Project.name == name)
        return int(await session.scalar(statement) or 0)


async def test_replay_returns_the_stored_response_and_creates_nothing(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
):
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


async def test_same_key_with_a_different_body_is_422(client: AsyncClient, acme: Org):
    headers = {**acme.member.headers, "Idempotency-Key": "k-1"}
    assert (await client.post(PROJECTS, json={"name": "A"}, headers=headers)).status_code == 201

    response = await client.post(PROJECTS, json={"name": "B"}, headers=headers)

    assert assert_problem(response, 422)["type"].endswith("idempotency-key-reused")


async def test_duplicate_while_the_first_is_running_is_409(
    client: AsyncClient, acme: Org, redis: Redis
):
    # Run the first request up to its claim, and no further: the key is now pending.
    headers = {**acme.member.headers, "Idempotency-Key": "slow-1"}
    first = await client.post(PROJECTS, json={"name": "Slow"}, headers=headers)
    [key] = await redis.keys("idempotency:*")
    record = json.loads(await redis.get(key))
    record["state"] = "pending"
    await redis.set(key, json.dumps(record))

    response = await client.post(PROJECTS, json={"name": "Slow"}, headers=headers)

    assert first.status_code == 201
    assert assert_problem(response, 409)["type"].endswith("idempotency-in-flight")


async def test_keys_are_scoped_to_the_user(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
):
    key = {"Idempotency-Key": "shared-key"}
    mine = await client.post(
        PROJECTS, json={"name": "Mine"}, headers={**acme.member.headers, **key}
    )
    theirs = await client.post(
        PROJECTS, json={"name": "Theirs"}, headers={**acme.admin.headers, **key}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers


async def test_without_the_header_nothing_changes(client: AsyncClient, acme: Org):
    first = await client.post(PROJECTS, json={"name": "Twice"}, headers=acme.member.headers)
    second = await client.post(PROJECTS, json={"name": "Twice"}, headers=acme.member.headers)
    assert (first.status_code, second.status_code) == (201, 409)


async def test_a_failed_request_releases_its_key(
    app: FastAPI, client: AsyncClient, acme: Org, redis: Redis
):
    from app.project.dependencies import get_project_service

    async def broken() -> None:
        raise RuntimeError("database on fire")

    headers = {**acme.member.headers, "Idempotency-Key": "retry-me"}
    app.dependency_overrides[get_project_service] = broken
    assert (await client.post(PROJECTS, json={"name": "R"}, headers=headers)).status_code == 500
    assert await redis.keys("idempotency:*") == []

    del app.dependency_overrides[get_project_service]
    assert (await client.post(PROJECTS, json={"name": "R"}, headers=headers)).status_code == 201


async def test_same_key_on_another_path_is_not_a_replay(
    client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
):
    """Tasks of two projects share a route template; the key must not replay across them."""
    other = await client.post(PROJECTS, json={"name": "Other"}, headers=acme.member.headers)
    headers = {**acme.member.headers, "Idempotency-Key": "task-1"}
    first = await client.post(
        f"{PROJECTS}/{acme.project.id}/tasks",
        json={"title": "T"},
        headers=headers,  # type: ignore[union-attr]
    )
    second = await client.post(
        f"{PROJECTS}/{other.json()['id']}/tasks", json={"title": "T"}, headers=headers
    )
    assert first.status_code == 201
    assert_problem(second, 422)
