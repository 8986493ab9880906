"""Optimistic concurrency: no lost update between two writers of the same version.

The API test shows the contract (`If-Match` with a stale ETag is 412). The session test shows
why it holds under real concurrency: two transactions on two connections both read version 1;
the second UPDATE waits for the first's row lock, then matches no row (`AND version = 1`), and
is refused instead of overwriting.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.concurrency import StaleVersionError
from app.core.config import Settings
from app.core.db import create_session_factory
from app.core.tenancy import bind_tenant
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectUpdate
from app.project.service import ProjectService
from tests.fixtures.auth import Org
from tests.fixtures.demo import project_url
from tests.fixtures.fakes import InMemoryCache, InMemoryRecorder, fake_principal
from tests.fixtures.problems import assert_problem


async def test_a_stale_if_match_is_412_and_changes_nothing(client: AsyncClient, acme: Org) -> None:
    path = project_url(acme.project)
    read = await client.get(path, headers=acme.viewer.headers)
    stale = {**acme.member.headers, "If-Match": read.headers["etag"]}

    first = await client.patch(path, json={"name": "First writer"}, headers=stale)
    second = await client.patch(path, json={"name": "Second writer"}, headers=stale)

    assert first.status_code == 200
    assert first.headers["etag"] != read.headers["etag"]
    assert assert_problem(second, 412)["type"].endswith("stale-version")
    current = await client.get(path, headers=acme.viewer.headers)
    assert current.json()["name"] == "First writer"


@pytest.fixture
async def committed_project(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[uuid.UUID, uuid.UUID]]:
    """A tenant and project really committed (two connections must both see them), removed
    afterwards through the owner connection."""
    owner = create_async_engine(settings.database.owner_url)
    tenant_id, project_id = uuid.uuid4(), uuid.uuid4()
    async with owner.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'Race')"),
            {"id": tenant_id, "slug": f"race-{tenant_id.hex[:12]}"},
        )
        await connection.execute(
            text("INSERT INTO projects (id, tenant_id, name) VALUES (:id, :tenant, 'Original')"),
            {"id": project_id, "tenant": tenant_id},
        )
    yield tenant_id, project_id
    async with owner.begin() as connection:
        await connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
    await owner.dispose()


async def test_two_sessions_cannot_both_update_one_version(
    engine: AsyncEngine, committed_project: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_id, project_id = committed_project
    factory = create_session_factory(engine)
    actor = fake_principal(tenant_id)

    async with factory() as first, factory() as second:
        services = []
        for session in (first, second):
            repository = ProjectRepository(await bind_tenant(session, tenant_id), tenant_id)
            services.append(
                ProjectService(
                    repository,
                    InMemoryCache(),  # type: ignore[arg-type]  # get, set and delete are all it uses
                    InMemoryRecorder(),
                    actor=actor,
                )
            )
        # Both load version 1 before either writes.
        first_row, second_row = [await s.load_for_change(project_id) for s in services]
        assert (first_row.version, second_row.version) == (1, 1)

        await services[0].update(
            first_row, ProjectUpdate(name="First"), expected_version=frozenset({1})
        )
        # The second UPDATE blocks on the first's row lock until the first commits...
        racing = asyncio.create_task(
            services[1].update(
                second_row, ProjectUpdate(name="Second"), expected_version=frozenset({1})
            )
        )
        await asyncio.sleep(0.2)
        assert not racing.done()
        await first.commit()
        # ...then finds version 2 where it expected 1, and is refused.
        with pytest.raises(StaleVersionError):
            await racing
        await second.rollback()

    async with factory() as check:
        await bind_tenant(check, tenant_id)
        row = (
            await check.execute(
                text("SELECT name, version FROM projects WHERE id = :id"), {"id": project_id}
            )
        ).one()
    assert tuple(row) == ("First", 2)


async def test_if_match_may_list_several_versions(client: AsyncClient, acme: Org) -> None:
    """RFC 9110: the precondition holds when any listed strong tag is current."""
    path = project_url(acme.project)
    current = (await client.get(path, headers=acme.viewer.headers)).headers["etag"]

    listed = await client.patch(
        path,
        json={"name": "Listed"},
        headers={**acme.member.headers, "If-Match": f'"99", W/"1", {current}'},
    )
    stale_only = await client.patch(
        path, json={"name": "Stale"}, headers={**acme.member.headers, "If-Match": '"98", "99"'}
    )

    assert listed.status_code == 200
    assert_problem(stale_only, 412)
