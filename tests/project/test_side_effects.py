"""What a write sets off happens only after its transaction commits: events are published and
cached reads are invalidated then, and never for a write that rolled back."""

import json

from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from app.project.service import project_key
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.fakes import InMemoryPublisher
from tests.fixtures.paths import PROJECTS, project_url


async def cached_name(redis: Redis, key: str) -> object:
    """The name in the project read cached at `key`."""
    raw = await redis.get(key)
    assert raw is not None, f"nothing cached at {key}"
    return json.loads(raw)["name"]


class TestEvents:
    async def test_published_after_commit(
        self, app: FastAPI, client: AsyncClient, acme: Org
    ) -> None:
        publisher = InMemoryPublisher()
        use_resources(app, publisher=publisher)

        created = await client.post(PROJECTS, json={"name": "Launch"}, headers=acme.member.headers)
        project_id = created.json()["id"]
        await client.patch(
            f"{PROJECTS}/{project_id}", json={"name": "Launch v2"}, headers=acme.member.headers
        )
        await client.delete(f"{PROJECTS}/{project_id}", headers=acme.member.headers)

        assert [(e.type, e.data["project_id"]) for e in publisher.events] == [
            ("project.created", project_id),
            ("project.updated", project_id),
            ("project.deleted", project_id),
        ]
        assert {e.tenant_id for e in publisher.events} == {acme.tenant.id}

    async def test_nothing_published_when_the_commit_fails(
        self, app: FastAPI, client: AsyncClient, acme: Org, connection: AsyncConnection
    ) -> None:
        publisher = InMemoryPublisher()
        use_resources(app, publisher=publisher)
        use_resources(app, session_factory=savepoint_factory(connection, FailingCommitSession))

        response = await client.post(PROJECTS, json={"name": "Doomed"}, headers=acme.member.headers)

        assert response.status_code == 500
        assert publisher.events == []

    async def test_nothing_published_when_the_request_fails(
        self, app: FastAPI, client: AsyncClient, acme: Org
    ) -> None:
        publisher = InMemoryPublisher()
        use_resources(app, publisher=publisher)
        name = acme.project.name

        response = await client.post(PROJECTS, json={"name": name}, headers=acme.member.headers)

        assert response.status_code == 409
        assert publisher.events == []

    async def test_redis_streams_publisher_writes_the_tenants_stream(
        self, client: AsyncClient, acme: Org, redis: Redis
    ) -> None:
        response = await client.post(
            PROJECTS, json={"name": "Streamed"}, headers=acme.member.headers
        )

        entries = await redis.xrange(f"events:{acme.tenant.id}")
        assert entries, "nothing on the tenant's stream"
        [(_, fields)] = entries
        assert fields is not None
        assert fields["type"] == "project.created"
        assert json.loads(fields["data"])["project_id"] == response.json()["id"]


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
