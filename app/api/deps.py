"""Cross-cutting dependencies: the process-wide resources, handed out per request.

Every resource reaches code through one of these aliases, so `app.dependency_overrides` can swap
any of them. Domain aliases (`TenantServiceDep`, ...) live in `app/<domain>/dependencies.py`.
"""

import functools
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Literal, cast

from fastapi import Depends, Request, Response
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.repository import TenantScopes
from app.core.cache import Cache, RedisCache
from app.core.config import Settings
from app.core.db import SessionFactory, discard_after_commit, run_after_commit
from app.core.events import EventPublisher, RedisStreamPublisher
from app.core.metrics import record_rate_limit_rejection
from app.core.ratelimit import RateLimitedError, RateLimiter
from app.core.resources import Resources
from app.core.security import JWTCodec, PasswordHasher


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
            discard_after_commit(session)
            await session.rollback()
            raise
        await session.commit()
        await run_after_commit(session)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_redis(resources: ResourcesDep) -> Redis:
    """A client over the lifespan's pool (clients are cheap; the pool holds the connections)."""
    return resources.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def get_password_hasher(resources: ResourcesDep) -> PasswordHasher:
    return resources.password_hasher


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


async def get_jwt_codec(resources: ResourcesDep) -> JWTCodec:
    return resources.jwt


JWTCodecDep = Annotated[JWTCodec, Depends(get_jwt_codec)]


async def get_cache(redis: RedisDep, resources: ResourcesDep) -> Cache:
    """Cache-aside over Redis; degrades to misses (never errors) when Redis is down."""
    return RedisCache(redis, resources.redis_circuit)


CacheDep = Annotated[Cache, Depends(get_cache)]


async def get_rate_limiter(
    redis: RedisDep, resources: ResourcesDep, settings: SettingsDep
) -> RateLimiter:
    return RateLimiter(redis, resources.redis_circuit, fail_open=settings.rate_limit.fail_open)


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]

KeyDependency = Callable[..., Awaitable[str]]
RuleName = Literal["login_per_account", "login_per_address", "signup_per_address"]


async def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's --proxy-headers must be trusted)."""
    return request.client.host if request.client else "unknown"


@functools.cache
def rate_limit(
    rule: RuleName, key: KeyDependency = client_address
) -> Callable[..., Awaitable[None]]:
    """A guard counting requests per `key` under the settings' `rule` (limit per period).

    Over the limit: 429 problem with Retry-After. Under it: RateLimit-* headers on the response.
    Memoised, so `rate_limit("signup_per_address")` is one overridable object.
    """

    async def limit(
        subject: Annotated[str, Depends(key)],
        response: Response,
        limiter: RateLimiterDep,
        settings: SettingsDep,
    ) -> None:
        if not settings.rate_limit.enabled:
            return
        configured = getattr(settings.rate_limit, rule)
        state = await limiter.hit(
            rule,
            hashlib.sha256(subject.encode()).hexdigest()[:32],  # no emails in Redis keys
            limit=configured.limit,
            period_seconds=configured.period_seconds,
        )
        if not state.allowed:
            record_rate_limit_rejection(rule)
            raise RateLimitedError("Too many attempts; retry later.", headers=state.headers())
        response.headers.update(state.headers())

    limit.__name__ = limit.__qualname__ = f"rate_limit_{rule}"
    return limit


async def get_tenant_scopes(session: SessionDep) -> TenantScopes:
    """Crossing the tenant wall, for flows that learn their tenant midway (signup, login,
    refresh, loading the caller). Everything else uses `TenantSessionDep`."""
    return TenantScopes(session)


TenantScopesDep = Annotated[TenantScopes, Depends(get_tenant_scopes)]


async def get_publisher(
    redis: RedisDep, resources: ResourcesDep, settings: SettingsDep
) -> EventPublisher:
    """Domain events: Redis Streams here; tests swap in `InMemoryPublisher` through overrides."""
    return RedisStreamPublisher(
        redis, resources.redis_circuit, max_length=settings.events.stream_max_length
    )


PublisherDep = Annotated[EventPublisher, Depends(get_publisher)]
