import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select

from app.core.pagination import PageRequest, keyset
from app.core.repository import TenantOwnedRepository
from app.project.exceptions import ProjectNotFoundError
from app.task.exceptions import InvalidAssigneeError, TaskNotFoundError
from app.task.models import Task, TaskStatus


class TaskRepository(TenantOwnedRepository[Task]):
    model = Task
    not_found = TaskNotFoundError
    constraint_errors = {
        # The project was deleted after the request loaded it (the task would cascade away).
        "fk_tasks_project_id_projects": ProjectNotFoundError,
        # The assignee was deleted after the service checked them.
        "fk_tasks_assignee_id_users": InvalidAssigneeError,
    }

    async def get_in_project(self, project_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        """The task inside that project, or `TaskNotFoundError`. One query: a task of another
        project, or of a project that does not exist, is simply not found."""
        return await self.get_or_raise(task_id, Task.project_id == project_id)

    async def list(
        self,
        project_id: uuid.UUID,
        page: PageRequest,
        *,
        status: TaskStatus | None = None,
        assignee_id: uuid.UUID | None = None,
    ) -> Sequence[Row[Any]]:
        """One page of rows, read for the response (not ORM entities)."""
        statement = self.list_statement(project_id, page, status=status, assignee_id=assignee_id)
        rows: Sequence[Row[Any]] = (await self.session.execute(statement)).all()
        return rows

    def list_statement(
        self,
        project_id: uuid.UUID,
        page: PageRequest,
        *,
        status: TaskStatus | None = None,
        assignee_id: uuid.UUID | None = None,
    ) -> Select[Any]:
        """One page in (created_at, id) order; each filter has an index that ends with those."""
        statement = self._select_rows().where(Task.project_id == project_id)
        if status is not None:
            statement = statement.where(Task.status == status)
        if assignee_id is not None:
            statement = statement.where(Task.assignee_id == assignee_id)
        return keyset(statement, Task, page)

    async def add_all(self, tasks: Sequence[Task]) -> Sequence[Task]:
        for task in tasks:
            task.tenant_id = self.tenant_id
        self.session.add_all(tasks)
        await self.flush()
        return tasks
