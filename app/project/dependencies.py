import uuid
from typing import Annotated

from fastapi import Depends

from app.api.deps import CacheDep, PublisherDep, SettingsDep
from app.auth.dependencies import PrincipalDep, TenantDep, TenantSessionDep
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectRead
from app.project.service import ProjectService


async def get_project_repository(session: TenantSessionDep, tenant: TenantDep) -> ProjectRepository:
    return ProjectRepository(session, tenant.id)


ProjectRepositoryDep = Annotated[ProjectRepository, Depends(get_project_repository)]


async def get_project_service(
    projects: ProjectRepositoryDep,
    cache: CacheDep,
    publisher: PublisherDep,
    actor: PrincipalDep,
    settings: SettingsDep,
) -> ProjectService:
    return ProjectService(
        projects,
        cache,
        publisher,
        actor=actor,
        cache_ttl_seconds=settings.cache.project_ttl_seconds,
    )


ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]


async def valid_project(project_id: uuid.UUID, service: ProjectServiceDep) -> ProjectRead:
    """The project named in the path, in the caller's tenant, or 404 (cached read)."""
    return await service.read(project_id)


ProjectDep = Annotated[ProjectRead, Depends(valid_project)]
