import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import RequestContextDep
from app.identity.repository import UserRepository
from app.task.models import Task
from app.task.repository import TaskRepository
from app.task.service import TaskService


async def get_task_service(context: RequestContextDep) -> TaskService:
    """Tasks of the caller's tenant, as the caller (assignees are checked against its users)."""
    return TaskService(
        TaskRepository(context.session, context.tenant_id),
        UserRepository(context.session, context.tenant_id),
        context.resources.publisher,
        actor=context.principal,
    )


TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]


async def valid_task(project_id: uuid.UUID, task_id: uuid.UUID, service: TaskServiceDep) -> Task:
    """The task named in the path, inside the project named in the path, or 404. One query:
    a task of another project, or of a project that does not exist, is simply not found."""
    return await service.get(project_id, task_id)


TaskDep = Annotated[Task, Depends(valid_task)]
