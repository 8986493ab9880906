"""POST /api/v1/projects/{project_id}/tasks: every field and the defaults, validation, the assignee
kept inside the tenant, roles and tenant isolation."""

import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.task.models import Task, TaskStatus
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, task_titles, tasks_url
from tests.fixtures.problems import INVALID_ASSIGNEE, assert_problem, field_error
from tests.fixtures.rows import count, stored


class TestCreateTask:
    async def test_member_creates_with_every_field(self, client: AsyncClient, acme: Org) -> None:
        body = {
            "title": "Write docs",
            "description": "All of them",
            "status": "doing",
            "assignee_id": str(acme.admin.user.id),
            "due_date": "2027-03-01",
        }
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )

        assert response.status_code == 201, response.text
        assert response.headers["etag"] == '"1"'
        created = response.json()
        assert {k: created[k] for k in body} == body
        assert created["project_id"] == str(acme.project.id)
        assert created["version"] == 1

    async def test_defaults(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.post(
            tasks_url(acme.project), json={"title": "Bare"}, headers=acme.member.headers
        )

        assert response.status_code == 201
        created = response.json()
        assert (created["status"], created["description"]) == ("todo", "")
        assert (created["assignee_id"], created["due_date"]) == (None, None)
        row = await stored(session_factory, acme.tenant, Task, created["id"])
        assert (row.title, row.status, row.tenant_id) == ("Bare", TaskStatus.TODO, acme.tenant.id)

    async def test_created_task_is_readable_and_listed(
        self, client: AsyncClient, acme: Org
    ) -> None:
        created = await client.post(
            tasks_url(acme.project), json={"title": "New"}, headers=acme.member.headers
        )
        read = await client.get(
            f"{tasks_url(acme.project)}/{created.json()['id']}", headers=acme.viewer.headers
        )
        assert read.json() == created.json()
        listed = await client.get(tasks_url(acme.project), headers=acme.viewer.headers)
        # Both rows were written in the test's one transaction, so they share created_at and
        # the list orders them by id: compare without order.
        assert sorted(t["title"] for t in listed.json()["items"]) == ["A task", "New"]

    @pytest.mark.parametrize(
        ("body", "loc", "error_type"),
        [
            ({"title": ""}, ["body", "title"], "string_too_short"),
            ({"title": " "}, ["body", "title"], "string_too_short"),
            ({"title": "x" * 201}, ["body", "title"], "string_too_long"),
            ({}, ["body", "title"], "missing"),
            ({"title": None}, ["body", "title"], "string_type"),
            ({"title": 1}, ["body", "title"], "string_type"),
            ({"title": "t", "status": "finished"}, ["body", "status"], "enum"),
            ({"title": "t", "assignee_id": "me"}, ["body", "assignee_id"], "uuid_parsing"),
            (
                {"title": "t", "due_date": "2027-13-01"},
                ["body", "due_date"],
                "date_from_datetime_parsing",
            ),
            (
                {"title": "t", "project_id": str(uuid.uuid4())},
                ["body", "project_id"],
                "extra_forbidden",
            ),
            ({"title": "t", "version": 3}, ["body", "version"], "extra_forbidden"),
        ],
    )
    async def test_invalid_body_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        body: dict[str, Any],
        loc: list[Any],
        error_type: str,
    ) -> None:
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )
        assert field_error(response) == (loc, error_type)
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_assignee_of_another_tenant_is_422_and_nothing_is_created(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        body = {"title": "Outsourced", "assignee_id": str(globex.member.user.id)}
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )

        problem = assert_problem(response, 422)
        assert problem["type"] == INVALID_ASSIGNEE
        assert problem["detail"] == f"No user {globex.member.user.id} in this tenant."
        assert await task_titles(session_factory, acme.tenant) == ["A task"]

    async def test_unknown_assignee_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        body = {"title": "Ghost", "assignee_id": str(uuid.uuid4())}
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_unknown_project_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            f"{PROJECTS}/{uuid.uuid4()}/tasks", json={"title": "x"}, headers=acme.member.headers
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.post(
            tasks_url(acme.project), json={"title": "x"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.post(tasks_url(acme.project), json={"title": "x"}), 401)

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.post(
            tasks_url(acme.project), json={"title": "Planted"}, headers=globex.owner.headers
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert await task_titles(session_factory, acme.tenant) == ["A task"]
        assert await task_titles(session_factory, globex.tenant) == ["A task"]
