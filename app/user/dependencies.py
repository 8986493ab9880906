from typing import Annotated

from fastapi import Depends

from app.api.deps import SessionDep
from app.user.repository import UserRepository


async def get_user_repository(session: SessionDep) -> UserRepository:
    return UserRepository(session)


UserRepositoryDep = Annotated[UserRepository, Depends(get_user_repository)]
