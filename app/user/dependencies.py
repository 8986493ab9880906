from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import RequestContextDep
from app.identity.repository import UserRepository
from app.user.service import UserService


async def get_user_service(context: RequestContextDep) -> UserService:
    resources = context.resources
    return UserService(
        UserRepository(context.session, context.tenant_id),
        resources.password_hasher,
        resources.cache,
        actor=context.principal,
        password_min_length=context.settings.auth.password_min_length,
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
