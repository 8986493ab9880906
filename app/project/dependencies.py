import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import RequestContextDep
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectRead
from app.project.service import ProjectService


async def get_project_service(context: RequestContextDep) -> ProjectService:
    """Projects of the caller's tenant, as the caller. Tests swap this provider for one that
    builds the service over in-memory collaborators."""
    resources = context.resources
    return ProjectService(
        ProjectRepository(context.session, context.tenant_id),
        resources.cache,
        resources.publisher,
        actor=context.principal,
        cache_ttl_seconds=context.settings.cache.project_ttl_seconds,
    )


ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]


async def valid_project(project_id: uuid.UUID, service: ProjectServiceDep) -> ProjectRead:
    """The project named in the path, in the caller's tenant, or 404 (cached read)."""
    return await service.read(project_id)


ProjectDep = Annotated[ProjectRead, Depends(valid_project)]
