"""The user services and the user named in the path: `UserForChangeDep`, the row for a write, as
every tenant-owned resource has it (`make domain` generates the same). No route reads one user
by id, so there is no read-model form. The services record their events (`user.created`,
`user.deleted`) in the outbox, on the request's session: rows of the request's transaction."""

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import ReadSessionDep, RequestContextDep
from app.core.errors import raises
from app.identity.exceptions import UserNotFoundError
from app.identity.models import User
from app.identity.repository import UserRepository
from app.outbox.repository import OutboxRepository
from app.user.service import UserService


async def get_user_service(context: RequestContextDep) -> UserService:
    resources = context.resources
    return UserService(
        UserRepository(context.session, context.tenant_id),
        resources.password_hasher,
        resources.cache,
        OutboxRepository(context.session, context.tenant_id),
        actor=context.principal,
        password_min_length=context.settings.auth.password_min_length,
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


async def get_user_reader(context: RequestContextDep, session: ReadSessionDep) -> UserService:
    """The same service over the read session, for the read-only route (the list)."""
    resources = context.resources
    return UserService(
        UserRepository.reading(session, context.tenant_id),
        resources.password_hasher,
        resources.cache,
        OutboxRepository.reading(session, context.tenant_id),
        actor=context.principal,
        password_min_length=context.settings.auth.password_min_length,
    )


UserReaderDep = Annotated[UserService, Depends(get_user_reader)]


@raises(UserNotFoundError)
async def user_for_change(user_id: uuid.UUID, service: UserServiceDep) -> User:
    """The user named in the path, in the caller's tenant: the row, for a write."""
    return await service.load_for_change(user_id)


UserForChangeDep = Annotated[User, Depends(user_for_change)]
