"""GET /api/v1/projects/{project_id}/tasks: what each role reads, the project and tenant walls,
and keyset pagination (every page, no duplicates or gaps; limit and cursor validation)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.identity.models import Role
from app.task.models import Task
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, create_project, create_task, tasks_url
from tests.fixtures.problems import assert_problem, field_error


class TestListTasks:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_the_projects_tasks(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        response = await client.get(tasks_url(acme.project), headers=acme.actors[role].headers)

        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item == {
            "id": str(acme.task.id),
            "project_id": str(acme.project.id),
            "title": "A task",
            "description": "",
            "status": "todo",
            "assignee_id": str(acme.member.user.id),
            "due_date": None,
            "version": 1,
            "created_at": item["created_at"],
            "updated_at": item["updated_at"],
        }
        assert response.json()["next_cursor"] is None

    async def test_other_projects_tasks_are_not_listed(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        other = await create_project(session_factory, acme.tenant)
        await create_task(session_factory, other, title="Elsewhere")
        response = await client.get(tasks_url(acme.project), headers=acme.viewer.headers)
        assert [t["title"] for t in response.json()["items"]] == ["A task"]

    async def test_unknown_project_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(f"{PROJECTS}/{uuid.uuid4()}/tasks", headers=acme.viewer.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.get(tasks_url(acme.project)), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.get(tasks_url(acme.project), headers=globex.owner.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert "A task" not in response.text


class TestTaskPagination:
    async def test_walks_every_page_without_duplicates_or_gaps(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        base = datetime(2000, 1, 1, tzinfo=UTC)
        for i in range(24):
            await create_task(
                session_factory,
                acme.project,
                title=f"t{i}",
                created_at=base + timedelta(minutes=i % 4),
            )
        async with session_factory() as session:
            await bind_tenant(session, acme.tenant.id)
            expected = [
                str(i)
                for i in await session.scalars(
                    select(Task.id)
                    .where(Task.project_id == acme.project.id)
                    .order_by(Task.created_at, Task.id)
                )
            ]
        assert len(expected) == 25

        seen: list[str] = []
        sizes: list[int] = []
        cursor: str | None = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
            response = await client.get(
                tasks_url(acme.project), params=params, headers=acme.viewer.headers
            )
            assert response.status_code == 200, response.text
            seen += [t["id"] for t in response.json()["items"]]
            sizes.append(len(response.json()["items"]))
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break

        assert sizes == [10, 10, 5]
        assert seen == expected

    @pytest.mark.parametrize(
        ("limit", "error_type"),
        [("0", "greater_than_equal"), ("101", "less_than_equal"), ("abc", "int_parsing")],
    )
    async def test_limit_out_of_range_is_422(
        self, client: AsyncClient, acme: Org, limit: str, error_type: str
    ) -> None:
        response = await client.get(
            tasks_url(acme.project), params={"limit": limit}, headers=acme.viewer.headers
        )
        assert field_error(response) == (["query", "limit"], error_type)

    async def test_tampered_cursor_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await create_task(session_factory, acme.project)
        first = await client.get(
            tasks_url(acme.project), params={"limit": 1}, headers=acme.viewer.headers
        )
        cursor = first.json()["next_cursor"]
        tampered = ("B" if cursor[0] != "B" else "C") + cursor[1:]

        response = await client.get(
            tasks_url(acme.project), params={"cursor": tampered}, headers=acme.viewer.headers
        )

        assert assert_problem(response, 422)["type"] == "urn:problem:dependable:invalid-cursor"

    async def test_garbage_cursor_is_422(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(
            tasks_url(acme.project), params={"cursor": "not-a-cursor"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 422)["type"] == "urn:problem:dependable:invalid-cursor"
