"""DELETE /api/v1/projects/{project_id}/tasks/{task_id}: If-Match, another project, roles and
tenant isolation; nothing is deleted when refused."""

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.task.models import Task
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, create_project, task_url, tasks_url
from tests.fixtures.problems import assert_problem
from tests.fixtures.rows import count


class TestDeleteTask:
    async def test_member_deletes(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.delete(task_url(acme.task), headers=acme.member.headers)

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(task_url(acme.task), headers=acme.viewer.headers), 404)
        assert await count(session_factory, acme.tenant, Task) == 0
        # The project stays.
        project = await client.get(f"{PROJECTS}/{acme.project.id}", headers=acme.viewer.headers)
        assert project.status_code == 200

    async def test_if_match_current_is_204(self, client: AsyncClient, acme: Org) -> None:
        response = await client.delete(
            task_url(acme.task), headers={**acme.member.headers, "If-Match": '"1"'}
        )
        assert response.status_code == 204

    @pytest.mark.parametrize("if_match", ['"2"', "garbage"])
    async def test_if_match_stale_or_garbage_is_412_and_nothing_is_deleted(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, if_match: str
    ) -> None:
        response = await client.delete(
            task_url(acme.task), headers={**acme.member.headers, "If-Match": if_match}
        )
        assert_problem(response, 412)
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        other = await create_project(session_factory, acme.tenant)
        response = await client.delete(
            f"{tasks_url(other)}/{acme.task.id}",
            headers=acme.member.headers,
        )
        assert_problem(response, 404)
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.delete(task_url(acme.task), headers=acme.viewer.headers)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_anonymous(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        assert_problem(await client.delete(task_url(acme.task)), 401)
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.delete(task_url(acme.task), headers=globex.owner.headers)
        assert_problem(response, 404)
        assert await count(session_factory, acme.tenant, Task) == 1
