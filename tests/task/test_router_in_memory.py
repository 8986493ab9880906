"""The task routes over an in-memory TaskService: its collaborators injected through
`app.dependency_overrides`: routing, validation, the role guards and the service run for real; the
task and user repositories, the event recorder, the project lookup and the caller are stand-ins, and
reaching the database session fails the test."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.auth.dependencies import RequestContextDep, get_request_context
from app.core.pagination import PageRequest
from app.flag.dependencies import require_feature
from app.identity.schemas import Principal, TenantRead
from app.project.dependencies import valid_project
from app.project.exceptions import ProjectNotFoundError
from app.project.schemas import ProjectRead
from app.task.dependencies import get_task_reader, get_task_service
from app.task.exceptions import TaskNotFoundError
from app.task.models import Task, TaskStatus
from app.task.service import TaskService
from tests.fixtures.app import provide
from tests.fixtures.fake_identity import InMemoryUsers
from tests.fixtures.fakes import (
    InMemoryRecorder,
    InMemoryRepository,
    Overrides,
    caller,
    client_without_database,
    fake_context,
)
from tests.fixtures.problems import INVALID_ASSIGNEE, assert_problem


class InMemoryTasks(InMemoryRepository[Task]):
    fields = ("title", "description", "status", "assignee_id", "due_date")
    not_found = TaskNotFoundError

    async def get_in_project(self, project_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        task = await self.get_or_raise(task_id)
        if task.project_id != project_id:
            raise TaskNotFoundError
        return task

    async def list(
        self,
        project_id: uuid.UUID,
        page: PageRequest,
        *,
        status: TaskStatus | None = None,
        assignee_id: uuid.UUID | None = None,
    ) -> Sequence[Task]:
        rows = [
            t
            for t in sorted(self.rows.values(), key=lambda t: (t.created_at, t.id))
            if t.project_id == project_id
            and (status is None or t.status == status)
            and (assignee_id is None or t.assignee_id == assignee_id)
        ]
        return rows[: page.limit + 1]


@dataclass
class Unit:
    client: AsyncClient
    tasks: InMemoryTasks
    recorder: InMemoryRecorder
    principal: Principal
    tenant: TenantRead
    project: ProjectRead
    colleague: uuid.UUID

    @property
    def url(self) -> str:
        return f"/api/v1/projects/{self.project.id}/tasks"

    async def seed(self, **fields: Any) -> Task:
        values: dict[str, Any] = {
            "title": "Seeded",
            "description": "",
            "status": TaskStatus.TODO,
            "assignee_id": None,
            "due_date": None,
            **fields,
        }
        return await self.tasks.add(Task(project_id=self.project.id, **values))


@pytest.fixture
async def unit(app_instance: FastAPI) -> AsyncIterator[Unit]:
    principal, tenant = caller()
    colleague = uuid.uuid4()
    now = datetime.now(UTC)
    project = ProjectRead(
        id=uuid.uuid4(),
        name="Roadmap",
        description="",
        created_by=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    tasks, recorder = InMemoryTasks(tenant.id), InMemoryRecorder()

    async def project_in_path(project_id: uuid.UUID) -> ProjectRead:
        if project_id != project.id:
            raise ProjectNotFoundError
        return project

    users = InMemoryUsers(principal.id, colleague)

    async def service_in_memory(context: RequestContextDep) -> TaskService:
        return TaskService(
            tasks,  # type: ignore[arg-type]  # TaskRepository, in memory
            users,  # type: ignore[arg-type]  # UserRepository's get, in memory
            recorder,
            actor=context.principal,
        )

    overrides: Overrides = {
        # The caller, and a unit of work that commits the in-memory tasks; no database.
        get_request_context: fake_context(
            principal, tenant, app_instance.state.resources, tasks, recorder
        ),
        get_task_service: service_in_memory,
        get_task_reader: service_in_memory,  # the read routes' provider (ReadSessionDep)
        valid_project: project_in_path,
    }
    async with client_without_database(app_instance, overrides) as client:
        yield Unit(client, tasks, recorder, principal, tenant, project, colleague)


class TestStatusEvents:
    async def test_status_change_publishes_status_changed_with_the_previous_status(
        self, unit: Unit
    ) -> None:
        task = await unit.seed(status=TaskStatus.DOING)

        response = await unit.client.patch(f"{unit.url}/{task.id}", json={"status": "done"})

        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.headers["etag"]) == ("done", '"2"')
        [event] = unit.recorder.events
        assert event.type == "task.status_changed"
        assert event.tenant_id == unit.tenant.id
        assert event.data == {
            "task_id": str(task.id),
            "project_id": str(unit.project.id),
            "status": "done",
            "previous": "doing",
            "by": str(unit.principal.id),
        }

    async def test_status_and_title_together_is_one_status_changed(self, unit: Unit) -> None:
        task = await unit.seed()

        await unit.client.patch(f"{unit.url}/{task.id}", json={"status": "doing", "title": "New"})

        assert [(e.type, e.data.get("previous")) for e in unit.recorder.events] == [
            ("task.status_changed", "todo")
        ]

    async def test_other_change_publishes_task_updated(self, unit: Unit) -> None:
        task = await unit.seed()

        response = await unit.client.patch(
            f"{unit.url}/{task.id}", json={"title": "Renamed", "assignee_id": str(unit.colleague)}
        )

        assert response.status_code == 200
        [event] = unit.recorder.events
        assert event.type == "task.updated"
        assert event.data == {
            "task_id": str(task.id),
            "project_id": str(unit.project.id),
            "status": "todo",
            "by": str(unit.principal.id),
        }

    async def test_same_status_again_is_task_updated(self, unit: Unit) -> None:
        task = await unit.seed(status=TaskStatus.DONE)

        response = await unit.client.patch(f"{unit.url}/{task.id}", json={"status": "done"})

        assert response.status_code == 200
        assert response.json()["version"] == 1  # nothing changed, nothing written
        assert [e.type for e in unit.recorder.events] == ["task.updated"]

    async def test_successive_changes_report_each_previous_status(self, unit: Unit) -> None:
        task = await unit.seed()
        for status in ("doing", "done", "todo"):
            await unit.client.patch(f"{unit.url}/{task.id}", json={"status": status})

        assert [(e.data["previous"], e.data["status"]) for e in unit.recorder.events] == [
            ("todo", "doing"),
            ("doing", "done"),
            ("done", "todo"),
        ]

    async def test_stale_if_match_is_412_with_no_event(self, unit: Unit) -> None:
        task = await unit.seed()
        await unit.client.patch(f"{unit.url}/{task.id}", json={"title": "v2"})

        response = await unit.client.patch(
            f"{unit.url}/{task.id}", json={"status": "done"}, headers={"If-Match": '"1"'}
        )

        assert assert_problem(response, 412)["type"].endswith("stale-version")
        assert [e.type for e in unit.recorder.events] == ["task.updated"]
        assert (task.status, task.version) == (TaskStatus.TODO, 2)


class TestCreateAndDeleteEvents:
    async def test_create_publishes_task_created(self, unit: Unit) -> None:
        response = await unit.client.post(
            unit.url, json={"title": "New", "assignee_id": str(unit.colleague)}
        )

        assert response.status_code == 201, response.text
        assert response.headers["etag"] == '"1"'
        [event] = unit.recorder.events
        assert (event.type, event.data["task_id"]) == ("task.created", response.json()["id"])
        [row] = unit.tasks.rows.values()
        assert (row.title, row.assignee_id, row.tenant_id) == (
            "New",
            unit.colleague,
            unit.tenant.id,
        )

    async def test_delete_publishes_task_deleted(self, unit: Unit) -> None:
        task = await unit.seed()

        response = await unit.client.delete(f"{unit.url}/{task.id}")

        assert response.status_code == 204
        assert [(e.type, e.data["task_id"]) for e in unit.recorder.events] == [
            ("task.deleted", str(task.id))
        ]
        assert unit.tasks.rows == {}

    async def test_task_of_another_project_is_404(self, unit: Unit) -> None:
        task = await unit.tasks.add(
            Task(project_id=uuid.uuid4(), title="Elsewhere", status=TaskStatus.TODO)
        )
        response = await unit.client.patch(f"{unit.url}/{task.id}", json={"status": "done"})
        assert assert_problem(response, 404)["type"].endswith("task-not-found")
        assert unit.recorder.events == []


class TestAssignee:
    async def test_unknown_assignee_on_create_is_422_and_nothing_is_created(
        self, unit: Unit
    ) -> None:
        stranger = uuid.uuid4()

        response = await unit.client.post(
            unit.url, json={"title": "x", "assignee_id": str(stranger)}
        )

        problem = assert_problem(response, 422)
        assert problem["type"] == INVALID_ASSIGNEE
        assert problem["detail"] == f"No user {stranger} in this tenant."
        assert unit.tasks.rows == {}
        assert unit.recorder.events == []

    async def test_unknown_assignee_on_update_is_422_and_nothing_changes(self, unit: Unit) -> None:
        task = await unit.seed(assignee_id=unit.colleague)

        response = await unit.client.patch(
            f"{unit.url}/{task.id}", json={"assignee_id": str(uuid.uuid4())}
        )

        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert (task.assignee_id, task.version) == (unit.colleague, 1)
        assert unit.recorder.events == []

    async def test_clearing_the_assignee_needs_no_lookup(self, unit: Unit) -> None:
        task = await unit.seed(assignee_id=unit.colleague)

        response = await unit.client.patch(f"{unit.url}/{task.id}", json={"assignee_id": None})

        assert response.status_code == 200
        assert (task.assignee_id, task.version) == (None, 2)
        assert [e.type for e in unit.recorder.events] == ["task.updated"]


class TestBulkWithoutDatabase:
    @pytest.fixture(autouse=True)
    def flag_on(self, app_instance: FastAPI, unit: Unit) -> None:
        # The guard is memoised, so this is the very object the route depends on.
        app_instance.dependency_overrides[require_feature("bulk_tasks")] = provide(None)

    async def test_one_event_per_task(self, unit: Unit) -> None:
        body = {"tasks": [{"title": "a"}, {"title": "b"}, {"title": "c"}]}

        response = await unit.client.post(f"{unit.url}:bulk", json=body)

        assert response.status_code == 201, response.text
        ids = [t["id"] for t in response.json()]
        assert [(e.type, e.data["task_id"]) for e in unit.recorder.events] == [
            ("task.created", i) for i in ids
        ]

    async def test_one_unknown_assignee_creates_none(self, unit: Unit) -> None:
        body = {
            "tasks": [
                {"title": "a", "assignee_id": str(unit.colleague)},
                {"title": "b", "assignee_id": str(uuid.uuid4())},
            ]
        }

        response = await unit.client.post(f"{unit.url}:bulk", json=body)

        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert unit.tasks.rows == {}
        assert unit.recorder.events == []
