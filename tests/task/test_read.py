"""GET /api/v1/projects/{project_id}/tasks/{task_id}: the ETag every role reads, and the 404s of
another project, an unknown task and another tenant."""

import uuid

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.identity.models import Role
from tests.fixtures.auth import Org
from tests.fixtures.demo import create_project, task_url, tasks_url
from tests.fixtures.problems import assert_problem


class TestReadTask:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_with_etag(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        response = await client.get(task_url(acme.task), headers=acme.actors[role].headers)
        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        assert response.json()["id"] == str(acme.task.id)
        assert response.json()["assignee_id"] == str(acme.member.user.id)

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        other = await create_project(session_factory, acme.tenant)
        response = await client.get(
            f"{tasks_url(other)}/{acme.task.id}",
            headers=acme.viewer.headers,
        )
        assert assert_problem(response, 404)["type"] == "urn:problem:dependable:task-not-found"

    async def test_unknown_task_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(
            f"{tasks_url(acme.project)}/{uuid.uuid4()}", headers=acme.viewer.headers
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.get(task_url(acme.task)), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.get(task_url(acme.task), headers=globex.owner.headers)
        assert_problem(response, 404)

    async def test_other_tenant_through_its_own_project(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        """globex's own project in the path does not open acme's task either."""
        response = await client.get(
            f"{tasks_url(globex.project)}/{acme.task.id}",
            headers=globex.owner.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")
