"""The project routes over an in-memory ProjectService: its collaborators injected through
`app.dependency_overrides`: routing, validation, the role guards and the service run for real; the
repository, cache, event recorder and caller are stand-ins (overrides of the request context and
of the service's two providers, the writes' and the reads'), and reaching the database session
fails the test."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.auth.dependencies import RequestContextDep, get_request_context
from app.core.pagination import PageRequest
from app.identity.models import Role
from app.identity.schemas import Principal, TenantRead
from app.project.dependencies import get_project_reader, get_project_service
from app.project.exceptions import ProjectNotFoundError
from app.project.models import Project
from app.project.service import ProjectService, project_key
from tests.fixtures.demo import PROJECTS
from tests.fixtures.fakes import (
    InMemoryCache,
    InMemoryRecorder,
    InMemoryRepository,
    Overrides,
    caller,
    client_without_database,
    fake_context,
)
from tests.fixtures.problems import assert_problem


class InMemoryProjects(InMemoryRepository[Project]):
    fields = ("name", "description")
    not_found = ProjectNotFoundError

    async def list(self, page: PageRequest) -> Sequence[Project]:
        return self.keyset_page(page)


@dataclass
class Unit:
    client: AsyncClient
    projects: InMemoryProjects
    cache: InMemoryCache
    recorder: InMemoryRecorder
    principal: Principal
    tenant: TenantRead

    def events(self) -> list[tuple[str, str]]:
        return [(e.type, e.data["project_id"]) for e in self.recorder.events]

    async def seed(self, name: str = "Seeded") -> Project:
        return await self.projects.add(Project(name=name, description=""))


@asynccontextmanager
async def open_unit(app: FastAPI, role: Role) -> AsyncIterator[Unit]:
    principal, tenant = caller(role)
    projects, cache, recorder = InMemoryProjects(tenant.id), InMemoryCache(), InMemoryRecorder()

    async def service_in_memory(context: RequestContextDep) -> ProjectService:
        return ProjectService(
            projects,  # type: ignore[arg-type]  # ProjectRepository, in memory
            cache,  # type: ignore[arg-type]  # the get, set and delete the service uses
            recorder,
            actor=context.principal,
        )

    overrides: Overrides = {
        # The caller, and a unit of work that commits the in-memory repository; no database.
        get_request_context: fake_context(
            principal, tenant, app.state.resources, projects, recorder
        ),
        get_project_service: service_in_memory,
        get_project_reader: service_in_memory,  # the read routes' provider (ReadSessionDep)
    }
    async with client_without_database(app, overrides) as client:
        yield Unit(client, projects, cache, recorder, principal, tenant)


@pytest.fixture
async def unit(app_instance: FastAPI) -> AsyncIterator[Unit]:
    async with open_unit(app_instance, Role.MEMBER) as unit:
        yield unit


@pytest.fixture
async def viewer_unit(app_instance: FastAPI) -> AsyncIterator[Unit]:
    async with open_unit(app_instance, Role.VIEWER) as unit:
        yield unit


class TestProjectEvents:
    async def test_create_publishes_project_created(self, unit: Unit) -> None:
        response = await unit.client.post(PROJECTS, json={"name": "Launch"})

        assert response.status_code == 201, response.text
        assert response.headers["etag"] == '"1"'
        project_id = response.json()["id"]
        [event] = unit.recorder.events
        assert event.type == "project.created"
        assert event.tenant_id == unit.tenant.id
        assert event.data == {
            "project_id": project_id,
            "name": "Launch",
            "by": str(unit.principal.id),
        }
        [row] = unit.projects.rows.values()
        assert (row.name, row.created_by, row.tenant_id) == (
            "Launch",
            unit.principal.id,
            unit.tenant.id,
        )

    async def test_read_publishes_nothing_and_is_cached(self, unit: Unit) -> None:
        project = await unit.seed()

        response = await unit.client.get(f"{PROJECTS}/{project.id}")

        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        assert response.json()["name"] == "Seeded"
        assert unit.recorder.events == []
        assert project_key(unit.tenant.id, project.id) in unit.cache.values

    async def test_update_publishes_project_updated_and_drops_the_cached_read(
        self, unit: Unit
    ) -> None:
        project = await unit.seed()
        await unit.client.get(f"{PROJECTS}/{project.id}")  # fills the cache

        response = await unit.client.patch(
            f"{PROJECTS}/{project.id}", json={"name": "Renamed"}, headers={"If-Match": '"1"'}
        )

        assert response.status_code == 200, response.text
        assert (response.json()["version"], response.headers["etag"]) == (2, '"2"')
        assert unit.events() == [("project.updated", str(project.id))]
        assert unit.recorder.events[0].data["name"] == "Renamed"
        assert project_key(unit.tenant.id, project.id) not in unit.cache.values
        read = await unit.client.get(f"{PROJECTS}/{project.id}")
        assert (read.json()["name"], read.headers["etag"]) == ("Renamed", '"2"')

    async def test_delete_publishes_project_deleted(self, unit: Unit) -> None:
        project = await unit.seed()

        response = await unit.client.delete(f"{PROJECTS}/{project.id}")

        assert response.status_code == 204
        assert unit.events() == [("project.deleted", str(project.id))]
        assert unit.projects.rows == {}
        assert project_key(unit.tenant.id, project.id) not in unit.cache.values
        assert_problem(await unit.client.get(f"{PROJECTS}/{project.id}"), 404)

    async def test_create_read_update_delete_in_order(self, unit: Unit) -> None:
        created = await unit.client.post(PROJECTS, json={"name": "Launch"})
        url = f"{PROJECTS}/{created.json()['id']}"
        await unit.client.get(url)
        await unit.client.patch(url, json={"description": "soon"})
        await unit.client.delete(url)

        assert [e.type for e in unit.recorder.events] == [
            "project.created",
            "project.updated",
            "project.deleted",
        ]
        assert {e.tenant_id for e in unit.recorder.events} == {unit.tenant.id}
        assert unit.projects.commits == 4

    async def test_stale_if_match_is_412_with_no_event(self, unit: Unit) -> None:
        project = await unit.seed()
        await unit.client.patch(f"{PROJECTS}/{project.id}", json={"name": "First"})
        published = list(unit.recorder.events)

        patched = await unit.client.patch(
            f"{PROJECTS}/{project.id}", json={"name": "Lost"}, headers={"If-Match": '"1"'}
        )
        deleted = await unit.client.delete(f"{PROJECTS}/{project.id}", headers={"If-Match": '"1"'})

        assert assert_problem(patched, 412)["type"].endswith("stale-version")
        assert assert_problem(deleted, 412)["type"].endswith("stale-version")
        assert unit.recorder.events == published
        assert (project.name, project.version) == ("First", 2)
        assert unit.projects.rollbacks == 2

    async def test_a_write_checks_the_row_not_the_cached_read(self, unit: Unit) -> None:
        """Reads are served from the cache; a write loads the row (`ProjectForChangeDep`), so
        its `If-Match` is checked against the version stored now, not the one cached."""
        project = await unit.seed()
        await unit.client.get(f"{PROJECTS}/{project.id}")  # caches version 1
        project.description = "changed elsewhere"  # another process: version 2, cache untouched
        await unit.projects.flush()
        cached = await unit.client.get(f"{PROJECTS}/{project.id}")

        stale = await unit.client.patch(
            f"{PROJECTS}/{project.id}", json={"name": "Lost"}, headers={"If-Match": '"1"'}
        )
        current = await unit.client.patch(
            f"{PROJECTS}/{project.id}", json={"name": "Kept"}, headers={"If-Match": '"2"'}
        )

        assert cached.headers["etag"] == '"1"'
        assert assert_problem(stale, 412)["type"].endswith("stale-version")
        assert (current.status_code, current.headers["etag"]) == (200, '"3"')
        assert (project.name, project.description) == ("Kept", "changed elsewhere")

    async def test_unknown_project_is_404_with_no_event(self, unit: Unit) -> None:
        response = await unit.client.patch(f"{PROJECTS}/{uuid.uuid4()}", json={"name": "x"})
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert unit.recorder.events == []

    async def test_list_pages_through_the_fake(self, unit: Unit) -> None:
        for i in range(3):
            await unit.seed(f"p{i}")
        first = await unit.client.get(PROJECTS, params={"limit": 2})
        second = await unit.client.get(
            PROJECTS, params={"limit": 2, "cursor": first.json()["next_cursor"]}
        )
        names = [p["name"] for p in first.json()["items"] + second.json()["items"]]
        assert sorted(names) == ["p0", "p1", "p2"]
        assert second.json()["next_cursor"] is None


class TestProjectRolesWithoutDatabase:
    async def test_viewer_cannot_write_and_nothing_is_published(self, viewer_unit: Unit) -> None:
        project = await viewer_unit.seed()

        created = await viewer_unit.client.post(PROJECTS, json={"name": "x"})
        deleted = await viewer_unit.client.delete(f"{PROJECTS}/{project.id}")

        assert assert_problem(created, 403)["type"].endswith("insufficient-role")
        assert_problem(deleted, 403)
        assert viewer_unit.recorder.events == []
        assert list(viewer_unit.projects.rows) == [project.id]
