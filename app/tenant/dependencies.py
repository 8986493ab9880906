from typing import Annotated

from fastapi import Depends

from app.api.deps import CacheDep, PasswordHasherDep, SessionDep, SettingsDep, TenantScopesDep
from app.tenant.repository import TenantRepository
from app.tenant.service import TenantDirectory, TenantService


async def get_tenant_repository(session: SessionDep) -> TenantRepository:
    return TenantRepository(session)


TenantRepositoryDep = Annotated[TenantRepository, Depends(get_tenant_repository)]


async def get_tenant_directory(
    tenants: TenantRepositoryDep, cache: CacheDep, settings: SettingsDep
) -> TenantDirectory:
    return TenantDirectory(tenants, cache, ttl_seconds=settings.cache.tenant_ttl_seconds)


TenantDirectoryDep = Annotated[TenantDirectory, Depends(get_tenant_directory)]


async def get_tenant_service(
    tenants: TenantRepositoryDep,
    scopes: TenantScopesDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
) -> TenantService:
    # Both ask for SessionDep; FastAPI's per-request cache hands them the same session, so the
    # tenant and its owner are written in one transaction.
    return TenantService(
        tenants,
        scopes,
        hasher,
        password_min_length=settings.auth.password_min_length,
    )


TenantServiceDep = Annotated[TenantService, Depends(get_tenant_service)]
