from typing import Annotated

from fastapi import Depends

from app.api.deps import PasswordHasherDep, SessionDep, SettingsDep
from app.tenant.repository import TenantRepository
from app.tenant.service import TenantService
from app.user.dependencies import UserRepositoryDep


async def get_tenant_repository(session: SessionDep) -> TenantRepository:
    return TenantRepository(session)


TenantRepositoryDep = Annotated[TenantRepository, Depends(get_tenant_repository)]


async def get_tenant_service(
    tenants: TenantRepositoryDep,
    users: UserRepositoryDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
) -> TenantService:
    # Both repositories ask for SessionDep: the per-request cache gives them the same session.
    return TenantService(
        tenants, users, hasher, password_min_length=settings.auth.password_min_length
    )


TenantServiceDep = Annotated[TenantService, Depends(get_tenant_service)]
