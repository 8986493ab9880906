"""The task services and the task named in the path, in the two forms projects have
(app/project/dependencies.py): `TaskDep` the read model, `TaskForChangeDep` the row for a write.
Either is one query: a task of another project, or of a project that does not exist, is simply
not found."""

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import ReadSessionDep, RequestContextDep
from app.core.errors import raises
from app.identity.repository import UserRepository
from app.outbox.repository import OutboxRepository
from app.task.exceptions import TaskNotFoundError
from app.task.models import Task
from app.task.repository import TaskRepository
from app.task.schemas import TaskRead
from app.task.service import TaskService


async def get_task_service(context: RequestContextDep) -> TaskService:
    """Tasks of the caller's tenant, as the caller (assignees are checked against its users;
    events are recorded in the outbox, in the request's transaction)."""
    return TaskService(
        TaskRepository(context.session, context.tenant_id),
        UserRepository(context.session, context.tenant_id),
        OutboxRepository(context.session, context.tenant_id),
        actor=context.principal,
    )


TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]


async def get_task_reader(context: RequestContextDep, session: ReadSessionDep) -> TaskService:
    """The same service over the read session, for the read-only routes (as projects have it)."""
    return TaskService(
        TaskRepository.reading(session, context.tenant_id),
        UserRepository.reading(session, context.tenant_id),
        OutboxRepository.reading(session, context.tenant_id),
        actor=context.principal,
    )


TaskReaderDep = Annotated[TaskService, Depends(get_task_reader)]


@raises(TaskNotFoundError)
async def valid_task(project_id: uuid.UUID, task_id: uuid.UUID, service: TaskReaderDep) -> TaskRead:
    """The task named in the path, inside the project named in the path, as readers see it."""
    return await service.read(project_id, task_id)


TaskDep = Annotated[TaskRead, Depends(valid_task)]


@raises(TaskNotFoundError)
async def task_for_change(
    project_id: uuid.UUID, task_id: uuid.UUID, service: TaskServiceDep
) -> Task:
    """The task named in the path, inside the project named in the path: the row, for a write."""
    return await service.load_for_change(project_id, task_id)


TaskForChangeDep = Annotated[Task, Depends(task_for_change)]
