from typing import Annotated

from fastapi import Depends

from app.http.deps import ResourcesDep, SessionDep, SettingsDep
from app.identity.repository import TenantRepository
from app.identity.wall import TenantWall
from app.tenant.service import TenantService


async def get_tenant_service(
    session: SessionDep, resources: ResourcesDep, settings: SettingsDep
) -> TenantService:
    # The tenant row and its owner are written in the request's one transaction.
    return TenantService(
        TenantRepository(session),
        TenantWall(session),
        resources.password_hasher,
        password_min_length=settings.auth.password_min_length,
    )


TenantServiceDep = Annotated[TenantService, Depends(get_tenant_service)]
