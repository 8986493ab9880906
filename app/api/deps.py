"""Cross-cutting dependencies: the process-wide resources, handed out per request.

Every resource reaches code through one of these aliases, so `app.dependency_overrides` can swap
any of them. Domain aliases (`TenantServiceDep`, ...) live in `app/<domain>/dependencies.py`.
"""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import SessionFactory
from app.core.resources import Resources
from app.core.security import PasswordHasher


async def get_settings(request: Request) -> Settings:
    """The settings this app was built with (loaded once per process by `load_settings`)."""
    return cast(Settings, request.app.state.settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_resources(request: Request) -> Resources:
    """What the lifespan opened (see `app.core.resources.open_resources`)."""
    return cast(Resources, request.app.state.resources)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_session_factory(resources: ResourcesDep) -> SessionFactory:
    return resources.session_factory


SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]


async def get_session(factory: SessionFactoryDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit if the endpoint returned, roll back if anything raised.

    Declared with `scope="function"` (below), so this code after `yield` runs when the endpoint
    returns and before the response is sent: a failed commit becomes an error response, and a
    2xx means the data is stored. With the default scope it would run after the response.
    """
    async with factory() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_redis(resources: ResourcesDep) -> Redis:
    """A client over the lifespan's pool (clients are cheap; the pool holds the connections)."""
    return resources.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def get_password_hasher(resources: ResourcesDep) -> PasswordHasher:
    return resources.password_hasher


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
