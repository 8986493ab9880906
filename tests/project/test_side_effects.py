"""What a write sets off goes with its transaction: its events are recorded in the outbox in
that transaction, and cached reads are invalidated once it commits; neither happens for a write
that rolled back or whose commit failed."""

import json

from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import SessionFactory
from app.project.service import project_key
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.demo import PROJECTS, project_url
from tests.fixtures.outbox import recorded


async def cached_name(redis: Redis, key: str) -> object:
    """The name in the project read cached at `key`."""
    raw = await redis.get(key)
    assert raw is not None, f"nothing cached at {key}"
    return json.loads(raw)["name"]


class TestEvents:
    """Events are rows of the write's own transaction (the outbox; a rollback and a failed
    commit: tests/outbox/test_recorder.py); the worker relays them (tests/worker)."""

    async def test_recorded_in_the_outbox_by_each_write(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        created = await client.post(PROJECTS, json={"name": "Launch"}, headers=acme.member.headers)
        project_id = created.json()["id"]
        await client.patch(
            f"{PROJECTS}/{project_id}", json={"name": "Launch v2"}, headers=acme.member.headers
        )
        await client.delete(f"{PROJECTS}/{project_id}", headers=acme.member.headers)

        rows = await recorded(session_factory, acme.tenant.id)
        assert [(row.type, row.data["project_id"], row.data["name"]) for row in rows] == [
            ("project.created", project_id, "Launch"),
            ("project.updated", project_id, "Launch v2"),
            ("project.deleted", project_id, "Launch v2"),
        ]
        assert {row.tenant_id for row in rows} == {acme.tenant.id}
        assert [row.sent_at for row in rows] == [None, None, None]  # the worker's job
        assert len({row.id for row in rows}) == 3

    async def test_nothing_recorded_when_the_request_fails(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        name = acme.project.name

        response = await client.post(PROJECTS, json={"name": name}, headers=acme.member.headers)

        assert response.status_code == 409
        assert await recorded(session_factory, acme.tenant.id) == []


class TestCacheInvalidation:
    async def test_a_write_invalidates_the_cached_read(
        self, client: AsyncClient, acme: Org, redis: Redis
    ) -> None:
        project = acme.project
        path = project_url(project)
        key = "cache:" + project_key(acme.tenant.id, project.id)

        first = await client.get(path, headers=acme.viewer.headers)
        assert await redis.exists(key) == 1
        assert await cached_name(redis, key) == first.json()["name"]

        renamed = await client.patch(path, json={"name": "Renamed"}, headers=acme.member.headers)
        assert renamed.status_code == 200
        assert await redis.exists(key) == 0

        second = await client.get(path, headers=acme.viewer.headers)
        assert second.json()["name"] == "Renamed"
        assert second.headers["etag"] == renamed.headers["etag"]

    async def test_a_failed_write_leaves_the_cache_alone(
        self,
        app: FastAPI,
        client: AsyncClient,
        acme: Org,
        redis: Redis,
        connection: AsyncConnection,
    ) -> None:
        project = acme.project
        path = project_url(project)
        await client.get(path, headers=acme.viewer.headers)
        use_resources(app, session_factory=savepoint_factory(connection, FailingCommitSession))

        failed = await client.patch(path, json={"name": "Never"}, headers=acme.member.headers)

        assert failed.status_code == 500
        key = "cache:" + project_key(acme.tenant.id, project.id)
        assert await cached_name(redis, key) == project.name

    async def test_cache_keys_carry_the_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, redis: Redis
    ) -> None:
        for org in (acme, globex):
            await client.get(project_url(org.project), headers=org.viewer.headers)
        keys = sorted(await redis.keys("cache:project:*"))
        assert keys == sorted(
            "cache:" + project_key(org.tenant.id, org.project.id) for org in (acme, globex)
        )
