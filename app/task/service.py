"""Tasks within a project. The assignee must be a user of the same tenant (looked up through
the tenant-owned user repository, so another tenant's user id is simply not found).

Fetching one task works as for projects (`app/project/service.py`): `read` gives the read model
(`TaskRead`; tasks are not cached, so it is built from the row), `load_for_change` the row that
`update` and `delete` take."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.core.concurrency import check_version
from app.core.events import DomainEvent, EventRecorder
from app.core.pagination import PageRequest
from app.identity.repository import UserRepository
from app.identity.schemas import Principal
from app.task.exceptions import InvalidAssigneeError
from app.task.models import Task, TaskStatus
from app.task.repository import TaskRepository
from app.task.schemas import TaskCreate, TaskRead, TaskUpdate


class TaskService:
    def __init__(
        self,
        tasks: TaskRepository,
        users: UserRepository,
        events: EventRecorder,
        *,
        actor: Principal,
    ) -> None:
        self.tasks = tasks
        self.users = users
        self.events = events
        self.actor = actor

    async def list(
        self,
        project_id: uuid.UUID,
        page: PageRequest,
        *,
        status: TaskStatus | None,
        assignee_id: uuid.UUID | None,
    ) -> Sequence[Row[Any]]:
        return await self.tasks.list(project_id, page, status=status, assignee_id=assignee_id)

    async def read(self, project_id: uuid.UUID, task_id: uuid.UUID) -> TaskRead:
        """The read model of the task inside that project; 404 if there is none."""
        return TaskRead.model_validate(await self.tasks.get_in_project(project_id, task_id))

    async def load_for_change(self, project_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        """The row itself, in this request's transaction; 404 if there is none."""
        return await self.tasks.get_in_project(project_id, task_id)

    async def create(self, project_id: uuid.UUID, fields: TaskCreate) -> Task:
        [task] = await self.create_many(project_id, [fields])
        return task

    async def create_many(
        self, project_id: uuid.UUID, items: Sequence[TaskCreate]
    ) -> Sequence[Task]:
        """All in the request's one transaction: every task is created, or none."""
        for fields in items:
            await self._check_assignee(fields.assignee_id)
        tasks = await self.tasks.add_all(
            [Task(project_id=project_id, **fields.model_dump()) for fields in items]
        )
        for task in tasks:
            await self._announce("task.created", task)
        return tasks

    async def update(
        self, task: Task, changes: TaskUpdate, *, expected_version: frozenset[int] | None
    ) -> Task:
        """`task` as `load_for_change` gave it; only the fields `changes` carries change
        (`assignee_id` and `due_date` may be cleared with null)."""
        check_version(task.version, expected_version)
        if "assignee_id" in changes.model_fields_set:
            await self._check_assignee(changes.assignee_id)
        previous_status = task.status
        for field, value in changes.model_dump(exclude_unset=True).items():
            setattr(task, field, value)
        await self.tasks.flush()
        if task.status is not previous_status:
            await self._announce("task.status_changed", task, previous=previous_status.value)
        else:
            await self._announce("task.updated", task)
        return task

    async def delete(self, task: Task, *, expected_version: frozenset[int] | None) -> None:
        check_version(task.version, expected_version)
        await self.tasks.delete(task)
        await self._announce("task.deleted", task)

    async def _check_assignee(self, assignee_id: uuid.UUID | None) -> None:
        if assignee_id is not None and await self.users.get(assignee_id) is None:
            raise InvalidAssigneeError(f"No user {assignee_id} in this tenant.")

    async def _announce(self, type_: str, task: Task, **extra: str) -> None:
        event = DomainEvent(
            type=type_,
            tenant_id=task.tenant_id,
            data={
                "task_id": str(task.id),
                "project_id": str(task.project_id),
                "status": task.status.value,
                "by": str(self.actor.id),
                **extra,
            },
        )
        await self.events.record(event)
