import uuid
from typing import Annotated

from fastapi import Depends

from app.api.deps import PublisherDep
from app.auth.dependencies import PrincipalDep, TenantDep, TenantSessionDep
from app.project.dependencies import ProjectDep
from app.task.models import Task
from app.task.repository import TaskRepository
from app.task.service import TaskService
from app.user.dependencies import UserRepositoryDep


async def get_task_repository(session: TenantSessionDep, tenant: TenantDep) -> TaskRepository:
    return TaskRepository(session, tenant.id)


TaskRepositoryDep = Annotated[TaskRepository, Depends(get_task_repository)]


async def get_task_service(
    tasks: TaskRepositoryDep,
    users: UserRepositoryDep,
    publisher: PublisherDep,
    actor: PrincipalDep,
) -> TaskService:
    return TaskService(tasks, users, publisher, actor=actor)


TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]


async def valid_task(task_id: uuid.UUID, project: ProjectDep, service: TaskServiceDep) -> Task:
    """The task named in the path, inside the project named in the path, or 404."""
    return await service.get(project.id, task_id)


TaskDep = Annotated[Task, Depends(valid_task)]
