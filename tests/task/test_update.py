"""PATCH /api/v1/projects/{project_id}/tasks/{task_id}: changes and the version they bump, clearing
with null, the assignee kept inside the tenant, validation, If-Match, roles and tenant isolation."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.task.models import Task, TaskStatus
from tests.fixtures.auth import Org
from tests.fixtures.demo import create_project, create_task, task_url, tasks_url
from tests.fixtures.problems import INVALID_ASSIGNEE, assert_problem, field_error
from tests.fixtures.rows import stored


class TestUpdateTask:
    async def test_member_changes_status_and_version_increments(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            task_url(acme.task), json={"status": "done"}, headers=acme.member.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"2"'
        assert (response.json()["status"], response.json()["version"]) == ("done", 2)
        assert response.json()["title"] == "A task"
        assert response.json()["assignee_id"] == str(acme.member.user.id)
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.status, row.version) == (TaskStatus.DONE, 2)

    async def test_updated_at_advances(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        task = await create_task(
            session_factory,
            acme.project,
            created_at=long_ago,
            updated_at=long_ago,
        )
        response = await client.patch(
            f"{tasks_url(acme.project)}/{task.id}",
            json={"title": "New"},
            headers=acme.member.headers,
        )
        assert response.json()["created_at"] == "2020-01-01T00:00:00Z"
        assert response.json()["updated_at"] > "2021"

    async def test_clearing_the_assignee_and_due_date_with_null(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await client.patch(
            task_url(acme.task), json={"due_date": "2027-01-01"}, headers=acme.member.headers
        )

        response = await client.patch(
            task_url(acme.task),
            json={"assignee_id": None, "due_date": None},
            headers=acme.member.headers,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["assignee_id"], response.json()["due_date"]) == (None, None)
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.assignee_id, row.due_date, row.version) == (None, None, 3)

    async def test_reassigning_within_the_tenant(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            task_url(acme.task),
            json={"assignee_id": str(acme.viewer.user.id)},
            headers=acme.member.headers,
        )
        assert response.status_code == 200
        assert response.json()["assignee_id"] == str(acme.viewer.user.id)

    async def test_assignee_of_another_tenant_is_422_and_nothing_changes(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            task_url(acme.task),
            json={"assignee_id": str(globex.member.user.id), "title": "Moved"},
            headers=acme.member.headers,
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.assignee_id, row.title, row.version) == (acme.member.user.id, "A task", 1)

    @pytest.mark.parametrize(
        ("body", "loc", "error_type"),
        [
            ({"title": None}, ["body", "title"], "value_error"),
            ({"description": None}, ["body", "description"], "value_error"),
            ({"status": None}, ["body", "status"], "value_error"),
            ({"title": ""}, ["body", "title"], "string_too_short"),
            ({"title": "x" * 201}, ["body", "title"], "string_too_long"),
            ({"status": "finished"}, ["body", "status"], "enum"),
            ({"assignee_id": 12}, ["body", "assignee_id"], "uuid_type"),
            ({"project_id": str(uuid.uuid4())}, ["body", "project_id"], "extra_forbidden"),
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
        response = await client.patch(task_url(acme.task), json=body, headers=acme.member.headers)
        assert field_error(response) == (loc, error_type)
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.title, row.status, row.version) == ("A task", TaskStatus.TODO, 1)

    async def test_if_match_current_is_200(self, client: AsyncClient, acme: Org) -> None:
        etag = (await client.get(task_url(acme.task), headers=acme.member.headers)).headers["etag"]
        response = await client.patch(
            task_url(acme.task),
            json={"title": "Guarded"},
            headers={**acme.member.headers, "If-Match": etag},
        )
        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'

    async def test_if_match_star_is_200(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            task_url(acme.task),
            json={"title": "Any"},
            headers={**acme.member.headers, "If-Match": "*"},
        )
        assert response.status_code == 200

    async def test_if_match_stale_is_412_and_nothing_changes(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await client.patch(
            task_url(acme.task), json={"status": "doing"}, headers=acme.member.headers
        )

        response = await client.patch(
            task_url(acme.task),
            json={"status": "done"},
            headers={**acme.member.headers, "If-Match": '"1"'},
        )

        assert assert_problem(response, 412)["type"].endswith("stale-version")
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.status, row.version) == (TaskStatus.DOING, 2)

    async def test_if_match_garbage_is_412(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            task_url(acme.task),
            json={"status": "done"},
            headers={**acme.member.headers, "If-Match": "v1"},
        )
        assert assert_problem(response, 412)["type"].endswith("precondition-failed")
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert row.status is TaskStatus.TODO

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        other = await create_project(session_factory, acme.tenant)
        response = await client.patch(
            f"{tasks_url(other)}/{acme.task.id}",
            json={"status": "done"},
            headers=acme.member.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.project_id, row.status) == (acme.project.id, TaskStatus.TODO)

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            task_url(acme.task), json={"status": "done"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert row.status is TaskStatus.TODO

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.patch(task_url(acme.task), json={"status": "done"}), 401)

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            task_url(acme.task), json={"status": "done"}, headers=globex.owner.headers
        )
        assert_problem(response, 404)
        row = await stored(session_factory, acme.tenant, Task, acme.task.id)
        assert (row.status, row.version) == (TaskStatus.TODO, 1)
