from typing import Annotated

from fastapi import Depends

from app.api.deps import CacheDep, PasswordHasherDep, SettingsDep
from app.auth.dependencies import PrincipalDep, TenantDep, TenantSessionDep
from app.user.repository import UserRepository
from app.user.service import UserService


async def get_user_repository(session: TenantSessionDep, tenant: TenantDep) -> UserRepository:
    return UserRepository(session, tenant.id)


UserRepositoryDep = Annotated[UserRepository, Depends(get_user_repository)]


async def get_user_service(
    users: UserRepositoryDep,
    actor: PrincipalDep,
    hasher: PasswordHasherDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> UserService:
    return UserService(
        users, hasher, cache, actor=actor, password_min_length=settings.auth.password_min_length
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
