"""The project services and the project named in the path, in two forms that say what they are
for: `ProjectDep` the read model (`ProjectRead`, cached: reads, and the task routes that only
need the project to exist) and `ProjectForChangeDep` the row loaded for a write. Tasks follow the
same pattern (app/task/dependencies.py), users too (app/user/dependencies.py)."""

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import ReadSessionDep, RequestContextDep
from app.core.errors import raises
from app.outbox.repository import OutboxRepository
from app.project.exceptions import ProjectNotFoundError
from app.project.models import Project
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectRead
from app.project.service import ProjectService


async def get_project_service(context: RequestContextDep) -> ProjectService:
    """Projects of the caller's tenant, as the caller; their events are recorded in the outbox,
    in the request's transaction. Tests swap this provider for one that builds the service over
    in-memory collaborators."""
    resources = context.resources
    return ProjectService(
        ProjectRepository(context.session, context.tenant_id),
        resources.cache,
        OutboxRepository(context.session, context.tenant_id),
        actor=context.principal,
        cache_ttl_seconds=context.settings.cache.project_ttl_seconds,
    )


ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]


async def get_project_reader(context: RequestContextDep, session: ReadSessionDep) -> ProjectService:
    """The same service over the read session, for the read-only routes: the replica when one
    serves (app/core/replica.py), a READ ONLY transaction either way, so a write through it
    fails."""
    return ProjectService(
        ProjectRepository.reading(session, context.tenant_id),
        context.resources.cache,
        OutboxRepository.reading(session, context.tenant_id),
        actor=context.principal,
        cache_ttl_seconds=context.settings.cache.project_ttl_seconds,
    )


ProjectReaderDep = Annotated[ProjectService, Depends(get_project_reader)]


@raises(ProjectNotFoundError)
async def valid_project(project_id: uuid.UUID, service: ProjectServiceDep) -> ProjectRead:
    """The project named in the path, in the caller's tenant, as readers see it (cached)."""
    return await service.read(project_id)


ProjectDep = Annotated[ProjectRead, Depends(valid_project)]


@raises(ProjectNotFoundError)
async def project_for_change(project_id: uuid.UUID, service: ProjectServiceDep) -> Project:
    """The project named in the path, in the caller's tenant: the row, for a write."""
    return await service.load_for_change(project_id)


ProjectForChangeDep = Annotated[Project, Depends(project_for_change)]
