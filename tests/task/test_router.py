"""/api/v1/projects/{project_id}/tasks: reads, filters, pagination, writes, assignees, roles,
tenant isolation, ETags and If-Match, and the flag-guarded bulk create."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.identity.models import Role, Tenant
from app.project.models import Project
from app.task.models import Task, TaskStatus
from tests.fixtures.auth import Org, create_project, create_task
from tests.problems import assert_problem

PROJECTS = "/api/v1/projects"
VALIDATION = "urn:problem:dependable:validation-error"
INVALID_ASSIGNEE = "urn:problem:dependable:invalid-assignee"


def tasks_url(project: Project | None) -> str:
    return f"{PROJECTS}/{project.id}/tasks"  # type: ignore[union-attr]


def task_url(org: Org) -> str:
    return f"{tasks_url(org.project)}/{org.task.id}"  # type: ignore[union-attr]


def bulk_url(project: Project | None) -> str:
    return f"{tasks_url(project)}:bulk"


async def stored(factory: SessionFactory, tenant: Tenant, task_id: Any) -> Task | None:
    """The row as PostgreSQL holds it now (a fresh session, bound to the tenant)."""
    async with factory() as session:
        await bind_tenant(session, tenant.id)
        return await session.get(Task, task_id)


async def titles(factory: SessionFactory, tenant: Tenant) -> list[str]:
    """Every task title of the tenant, in key order."""
    async with factory() as session:
        await bind_tenant(session, tenant.id)
        statement = select(Task.title).order_by(Task.created_at, Task.id)
        return list(await session.scalars(statement))


async def task_count(factory: SessionFactory, tenant: Tenant) -> int:
    async with factory() as session:
        await bind_tenant(session, tenant.id)
        return int(await session.scalar(select(func.count()).select_from(Task)) or 0)


async def enable_bulk(client: AsyncClient, org: Org, enabled: bool = True) -> None:
    response = await client.put(
        "/api/v1/flags/bulk_tasks", json={"enabled": enabled}, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is enabled


def field_error(response: Any) -> tuple[list[Any], str]:
    """The first field error of a 422 validation problem, as (loc, type)."""
    body = assert_problem(response, 422)
    assert body["type"] == VALIDATION
    return body["errors"][0]["loc"], body["errors"][0]["type"]


class TestListTasks:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_the_projects_tasks(
        self, client: AsyncClient, acme: Org, role: Role
    ):
        response = await client.get(tasks_url(acme.project), headers=acme.actors[role].headers)

        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item == {
            "id": str(acme.task.id),  # type: ignore[union-attr]
            "project_id": str(acme.project.id),  # type: ignore[union-attr]
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
    ):
        other = await create_project(session_factory, acme.tenant)
        await create_task(session_factory, other, title="Elsewhere")
        response = await client.get(tasks_url(acme.project), headers=acme.viewer.headers)
        assert [t["title"] for t in response.json()["items"]] == ["A task"]

    async def test_unknown_project_is_404(self, client: AsyncClient, acme: Org):
        response = await client.get(f"{PROJECTS}/{uuid.uuid4()}/tasks", headers=acme.viewer.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")

    async def test_anonymous(self, client: AsyncClient, acme: Org):
        assert_problem(await client.get(tasks_url(acme.project)), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org):
        response = await client.get(tasks_url(acme.project), headers=globex.owner.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert "A task" not in response.text


class TestTaskFilters:
    @pytest.fixture
    async def tasks(self, acme: Org, session_factory: SessionFactory) -> dict[str, Task]:
        """The fixture's task (todo, the member's) and three more, one minute apart."""
        base = datetime(2000, 1, 1, tzinfo=UTC)
        project, member, admin = acme.project, acme.member.user.id, acme.admin.user.id
        specs = {
            "done-member": {"status": TaskStatus.DONE, "assignee_id": member},
            "done-nobody": {"status": TaskStatus.DONE},
            "doing-admin": {"status": TaskStatus.DOING, "assignee_id": admin},
        }
        created = {
            title: await create_task(
                session_factory,
                project,  # type: ignore[arg-type]
                title=title,
                created_at=base + timedelta(minutes=i),
                **fields,
            )
            for i, (title, fields) in enumerate(specs.items())
        }
        return {"todo-member": acme.task, **created}  # type: ignore[dict-item]

    async def list_titles(self, client: AsyncClient, acme: Org, **params: Any) -> list[str]:
        response = await client.get(
            tasks_url(acme.project), params=params, headers=acme.viewer.headers
        )
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    async def test_by_status(self, client: AsyncClient, acme: Org, tasks: dict[str, Task]):
        assert await self.list_titles(client, acme, status="done") == ["done-member", "done-nobody"]
        assert await self.list_titles(client, acme, status="doing") == ["doing-admin"]

    async def test_by_assignee(self, client: AsyncClient, acme: Org, tasks: dict[str, Task]):
        titles = await self.list_titles(client, acme, assignee_id=str(acme.member.user.id))
        # The fixture's task was created now, after the dated ones (2000).
        assert titles == ["done-member", "A task"]

    async def test_by_status_and_assignee(
        self, client: AsyncClient, acme: Org, tasks: dict[str, Task]
    ):
        member = str(acme.member.user.id)
        assert await self.list_titles(client, acme, status="done", assignee_id=member) == [
            "done-member"
        ]
        assert await self.list_titles(client, acme, status="doing", assignee_id=member) == []

    async def test_assignee_of_another_tenant_matches_nothing(
        self, client: AsyncClient, acme: Org, globex: Org, tasks: dict[str, Task]
    ):
        titles = await self.list_titles(client, acme, assignee_id=str(globex.member.user.id))
        assert titles == []

    async def test_filtered_pages_walk_to_the_end(
        self, client: AsyncClient, acme: Org, tasks: dict[str, Task]
    ):
        first = await client.get(
            tasks_url(acme.project),
            params={"status": "done", "limit": 1},
            headers=acme.viewer.headers,
        )
        assert [t["title"] for t in first.json()["items"]] == ["done-member"]
        second = await client.get(
            tasks_url(acme.project),
            params={"status": "done", "limit": 1, "cursor": first.json()["next_cursor"]},
            headers=acme.viewer.headers,
        )
        assert [t["title"] for t in second.json()["items"]] == ["done-nobody"]
        assert second.json()["next_cursor"] is None

    @pytest.mark.parametrize(
        ("params", "loc", "error_type"),
        [
            ({"status": "finished"}, ["query", "status"], "enum"),
            ({"status": "DONE"}, ["query", "status"], "enum"),
            ({"assignee_id": "someone"}, ["query", "assignee_id"], "uuid_parsing"),
        ],
    )
    async def test_invalid_filter_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        params: dict[str, str],
        loc: list[str],
        error_type: str,
    ):
        response = await client.get(
            tasks_url(acme.project), params=params, headers=acme.viewer.headers
        )
        assert field_error(response) == (loc, error_type)


class TestTaskPagination:
    async def test_walks_every_page_without_duplicates_or_gaps(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        base = datetime(2000, 1, 1, tzinfo=UTC)
        for i in range(24):
            await create_task(
                session_factory,
                acme.project,  # type: ignore[arg-type]
                title=f"t{i}",
                created_at=base + timedelta(minutes=i % 4),
            )
        async with session_factory() as session:
            await bind_tenant(session, acme.tenant.id)
            expected = [
                str(i)
                for i in await session.scalars(
                    select(Task.id)
                    .where(Task.project_id == acme.project.id)  # type: ignore[union-attr]
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
    ):
        response = await client.get(
            tasks_url(acme.project), params={"limit": limit}, headers=acme.viewer.headers
        )
        assert field_error(response) == (["query", "limit"], error_type)

    async def test_tampered_cursor_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await create_task(session_factory, acme.project)  # type: ignore[arg-type]
        first = await client.get(
            tasks_url(acme.project), params={"limit": 1}, headers=acme.viewer.headers
        )
        cursor = first.json()["next_cursor"]
        tampered = ("B" if cursor[0] != "B" else "C") + cursor[1:]

        response = await client.get(
            tasks_url(acme.project), params={"cursor": tampered}, headers=acme.viewer.headers
        )

        assert assert_problem(response, 422)["type"] == "urn:problem:dependable:invalid-cursor"

    async def test_garbage_cursor_is_422(self, client: AsyncClient, acme: Org):
        response = await client.get(
            tasks_url(acme.project), params={"cursor": "not-a-cursor"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 422)["type"] == "urn:problem:dependable:invalid-cursor"


class TestCreateTask:
    async def test_member_creates_with_every_field(self, client: AsyncClient, acme: Org):
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
        assert created["project_id"] == str(acme.project.id)  # type: ignore[union-attr]
        assert created["version"] == 1

    async def test_defaults(self, client: AsyncClient, acme: Org, session_factory: SessionFactory):
        response = await client.post(
            tasks_url(acme.project), json={"title": "Bare"}, headers=acme.member.headers
        )

        assert response.status_code == 201
        created = response.json()
        assert (created["status"], created["description"]) == ("todo", "")
        assert (created["assignee_id"], created["due_date"]) == (None, None)
        row = await stored(session_factory, acme.tenant, created["id"])
        assert (row.title, row.status, row.tenant_id) == ("Bare", TaskStatus.TODO, acme.tenant.id)  # type: ignore[union-attr]

    async def test_created_task_is_readable_and_listed(self, client: AsyncClient, acme: Org):
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
    ):
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )
        assert field_error(response) == (loc, error_type)
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_assignee_of_another_tenant_is_422_and_nothing_is_created(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        body = {"title": "Outsourced", "assignee_id": str(globex.member.user.id)}
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )

        problem = assert_problem(response, 422)
        assert problem["type"] == INVALID_ASSIGNEE
        assert problem["detail"] == f"No user {globex.member.user.id} in this tenant."
        assert await titles(session_factory, acme.tenant) == ["A task"]

    async def test_unknown_assignee_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        body = {"title": "Ghost", "assignee_id": str(uuid.uuid4())}
        response = await client.post(
            tasks_url(acme.project), json=body, headers=acme.member.headers
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_unknown_project_is_404(self, client: AsyncClient, acme: Org):
        response = await client.post(
            f"{PROJECTS}/{uuid.uuid4()}/tasks", json={"title": "x"}, headers=acme.member.headers
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.post(
            tasks_url(acme.project), json={"title": "x"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_anonymous(self, client: AsyncClient, acme: Org):
        assert_problem(await client.post(tasks_url(acme.project), json={"title": "x"}), 401)

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        response = await client.post(
            tasks_url(acme.project), json={"title": "Planted"}, headers=globex.owner.headers
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert await titles(session_factory, acme.tenant) == ["A task"]
        assert await titles(session_factory, globex.tenant) == ["A task"]


class TestReadTask:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_with_etag(self, client: AsyncClient, acme: Org, role: Role):
        response = await client.get(task_url(acme), headers=acme.actors[role].headers)
        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        assert response.json()["id"] == str(acme.task.id)  # type: ignore[union-attr]
        assert response.json()["assignee_id"] == str(acme.member.user.id)

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        other = await create_project(session_factory, acme.tenant)
        response = await client.get(
            f"{tasks_url(other)}/{acme.task.id}",  # type: ignore[union-attr]
            headers=acme.viewer.headers,
        )
        assert assert_problem(response, 404)["type"] == "urn:problem:dependable:task-not-found"

    async def test_unknown_task_is_404(self, client: AsyncClient, acme: Org):
        response = await client.get(
            f"{tasks_url(acme.project)}/{uuid.uuid4()}", headers=acme.viewer.headers
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")

    async def test_anonymous(self, client: AsyncClient, acme: Org):
        assert_problem(await client.get(task_url(acme)), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org):
        response = await client.get(task_url(acme), headers=globex.owner.headers)
        assert_problem(response, 404)

    async def test_other_tenant_through_its_own_project(
        self, client: AsyncClient, acme: Org, globex: Org
    ):
        """globex's own project in the path does not open acme's task either."""
        response = await client.get(
            f"{tasks_url(globex.project)}/{acme.task.id}",  # type: ignore[union-attr]
            headers=globex.owner.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")


class TestUpdateTask:
    async def test_member_changes_status_and_version_increments(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.patch(
            task_url(acme), json={"status": "done"}, headers=acme.member.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"2"'
        assert (response.json()["status"], response.json()["version"]) == ("done", 2)
        assert response.json()["title"] == "A task"
        assert response.json()["assignee_id"] == str(acme.member.user.id)
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.status, row.version) == (TaskStatus.DONE, 2)  # type: ignore[union-attr]

    async def test_updated_at_advances(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        task = await create_task(
            session_factory,
            acme.project,  # type: ignore[arg-type]
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
    ):
        await client.patch(
            task_url(acme), json={"due_date": "2027-01-01"}, headers=acme.member.headers
        )

        response = await client.patch(
            task_url(acme),
            json={"assignee_id": None, "due_date": None},
            headers=acme.member.headers,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["assignee_id"], response.json()["due_date"]) == (None, None)
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.assignee_id, row.due_date, row.version) == (None, None, 3)  # type: ignore[union-attr]

    async def test_reassigning_within_the_tenant(self, client: AsyncClient, acme: Org):
        response = await client.patch(
            task_url(acme),
            json={"assignee_id": str(acme.viewer.user.id)},
            headers=acme.member.headers,
        )
        assert response.status_code == 200
        assert response.json()["assignee_id"] == str(acme.viewer.user.id)

    async def test_assignee_of_another_tenant_is_422_and_nothing_changes(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        response = await client.patch(
            task_url(acme),
            json={"assignee_id": str(globex.member.user.id), "title": "Moved"},
            headers=acme.member.headers,
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.assignee_id, row.title, row.version) == (acme.member.user.id, "A task", 1)  # type: ignore[union-attr]

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
    ):
        response = await client.patch(task_url(acme), json=body, headers=acme.member.headers)
        assert field_error(response) == (loc, error_type)
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.title, row.status, row.version) == ("A task", TaskStatus.TODO, 1)  # type: ignore[union-attr]

    async def test_if_match_current_is_200(self, client: AsyncClient, acme: Org):
        etag = (await client.get(task_url(acme), headers=acme.member.headers)).headers["etag"]
        response = await client.patch(
            task_url(acme),
            json={"title": "Guarded"},
            headers={**acme.member.headers, "If-Match": etag},
        )
        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'

    async def test_if_match_star_is_200(self, client: AsyncClient, acme: Org):
        response = await client.patch(
            task_url(acme), json={"title": "Any"}, headers={**acme.member.headers, "If-Match": "*"}
        )
        assert response.status_code == 200

    async def test_if_match_stale_is_412_and_nothing_changes(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await client.patch(task_url(acme), json={"status": "doing"}, headers=acme.member.headers)

        response = await client.patch(
            task_url(acme),
            json={"status": "done"},
            headers={**acme.member.headers, "If-Match": '"1"'},
        )

        assert assert_problem(response, 412)["type"].endswith("stale-version")
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.status, row.version) == (TaskStatus.DOING, 2)  # type: ignore[union-attr]

    async def test_if_match_garbage_is_412(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.patch(
            task_url(acme),
            json={"status": "done"},
            headers={**acme.member.headers, "If-Match": "v1"},
        )
        assert assert_problem(response, 412)["type"].endswith("precondition-failed")
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert row.status is TaskStatus.TODO  # type: ignore[union-attr]

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        other = await create_project(session_factory, acme.tenant)
        response = await client.patch(
            f"{tasks_url(other)}/{acme.task.id}",  # type: ignore[union-attr]
            json={"status": "done"},
            headers=acme.member.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("task-not-found")
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.project_id, row.status) == (acme.project.id, TaskStatus.TODO)  # type: ignore[union-attr]

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.patch(
            task_url(acme), json={"status": "done"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert row.status is TaskStatus.TODO  # type: ignore[union-attr]

    async def test_anonymous(self, client: AsyncClient, acme: Org):
        assert_problem(await client.patch(task_url(acme), json={"status": "done"}), 401)

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        response = await client.patch(
            task_url(acme), json={"status": "done"}, headers=globex.owner.headers
        )
        assert_problem(response, 404)
        row = await stored(session_factory, acme.tenant, acme.task.id)  # type: ignore[union-attr]
        assert (row.status, row.version) == (TaskStatus.TODO, 1)  # type: ignore[union-attr]


class TestDeleteTask:
    async def test_member_deletes(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.delete(task_url(acme), headers=acme.member.headers)

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(task_url(acme), headers=acme.viewer.headers), 404)
        assert await task_count(session_factory, acme.tenant) == 0
        # The project stays.
        project = await client.get(f"{PROJECTS}/{acme.project.id}", headers=acme.viewer.headers)  # type: ignore[union-attr]
        assert project.status_code == 200

    async def test_if_match_current_is_204(self, client: AsyncClient, acme: Org):
        response = await client.delete(
            task_url(acme), headers={**acme.member.headers, "If-Match": '"1"'}
        )
        assert response.status_code == 204

    @pytest.mark.parametrize("if_match", ['"2"', "garbage"])
    async def test_if_match_stale_or_garbage_is_412_and_nothing_is_deleted(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, if_match: str
    ):
        response = await client.delete(
            task_url(acme), headers={**acme.member.headers, "If-Match": if_match}
        )
        assert_problem(response, 412)
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_task_under_another_project_of_the_tenant_is_404(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        other = await create_project(session_factory, acme.tenant)
        response = await client.delete(
            f"{tasks_url(other)}/{acme.task.id}",  # type: ignore[union-attr]
            headers=acme.member.headers,
        )
        assert_problem(response, 404)
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.delete(task_url(acme), headers=acme.viewer.headers)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_anonymous(self, client: AsyncClient, acme: Org, session_factory: SessionFactory):
        assert_problem(await client.delete(task_url(acme)), 401)
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        response = await client.delete(task_url(acme), headers=globex.owner.headers)
        assert_problem(response, 404)
        assert await task_count(session_factory, acme.tenant) == 1


class TestBulkCreate:
    async def test_flag_off_is_404_and_nothing_is_created(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        response = await client.post(
            bulk_url(acme.project), json={"tasks": [{"title": "x"}]}, headers=acme.member.headers
        )
        unknown = await client.post("/api/v1/no/such/route", headers=acme.member.headers)
        problem = assert_problem(response, 404)
        # Exactly what an unknown path answers: nothing tells the route exists.
        assert [problem[k] for k in ("type", "title", "detail")] == [
            unknown.json()[k] for k in ("type", "title", "detail")
        ]
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_flag_on_creates_all_in_order(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await enable_bulk(client, acme)
        tasks = [
            {"title": "one"},
            {"title": "two", "status": "doing", "assignee_id": str(acme.admin.user.id)},
            {"title": "three", "due_date": "2027-05-01"},
        ]

        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )

        assert response.status_code == 201, response.text
        created = response.json()
        assert [t["title"] for t in created] == ["one", "two", "three"]
        assert [t["status"] for t in created] == ["todo", "doing", "todo"]
        assert [t["assignee_id"] for t in created] == [None, str(acme.admin.user.id), None]
        assert [t["due_date"] for t in created] == [None, None, "2027-05-01"]
        assert {t["project_id"] for t in created} == {str(acme.project.id)}  # type: ignore[union-attr]
        assert {t["version"] for t in created} == {1}
        assert len({t["id"] for t in created}) == 3
        assert sorted(await titles(session_factory, acme.tenant)) == sorted(
            ["A task", "one", "two", "three"]
        )

    async def test_one_hundred_is_the_maximum(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await enable_bulk(client, acme)
        body = {"tasks": [{"title": f"t{i}"} for i in range(100)]}
        response = await client.post(bulk_url(acme.project), json=body, headers=acme.member.headers)
        assert response.status_code == 201
        assert len(response.json()) == 100
        assert await task_count(session_factory, acme.tenant) == 101

    @pytest.mark.parametrize(("count", "error_type"), [(101, "too_long"), (0, "too_short")])
    async def test_outside_1_to_100_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        count: int,
        error_type: str,
    ):
        await enable_bulk(client, acme)
        body = {"tasks": [{"title": f"t{i}"} for i in range(count)]}
        response = await client.post(bulk_url(acme.project), json=body, headers=acme.member.headers)
        assert field_error(response) == (["body", "tasks"], error_type)
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_one_invalid_assignee_creates_none(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        await enable_bulk(client, acme)
        tasks = [
            {"title": "fine", "assignee_id": str(acme.member.user.id)},
            {"title": "also fine"},
            {"title": "outsider", "assignee_id": str(globex.member.user.id)},
            {"title": "never reached"},
        ]
        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert await titles(session_factory, acme.tenant) == ["A task"]

    async def test_one_invalid_item_creates_none(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await enable_bulk(client, acme)
        tasks = [{"title": "fine"}, {"title": ""}]
        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )
        assert field_error(response) == (["body", "tasks", 1, "title"], "string_too_short")
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ):
        await enable_bulk(client, acme)
        response = await client.post(
            bulk_url(acme.project), json={"tasks": [{"title": "x"}]}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await task_count(session_factory, acme.tenant) == 1

    async def test_anonymous(self, client: AsyncClient, acme: Org):
        await enable_bulk(client, acme)
        assert_problem(
            await client.post(bulk_url(acme.project), json={"tasks": [{"title": "x"}]}), 401
        )

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ):
        # Both tenants have the flag on, so only the tenant wall can refuse.
        await enable_bulk(client, acme)
        await enable_bulk(client, globex)
        response = await client.post(
            bulk_url(acme.project),
            json={"tasks": [{"title": "Planted"}]},
            headers=globex.owner.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert await titles(session_factory, acme.tenant) == ["A task"]
        assert await titles(session_factory, globex.tenant) == ["A task"]
