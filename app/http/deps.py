"""Cross-cutting dependencies: the process-wide resources, handed out per request.

The graph is shaped for how FastAPI walks it. `solve_dependencies` revisits a dependency's whole
sub-tree at every place it is declared, before it looks in the per-request cache: a cached node
is *called* once but *walked* every time (docs/dependency-injection.md). So the nodes that many
others share are leaves (`get_settings`, `get_resources`: no sub-dependencies), and the deep
work, authentication and the tenant-bound transaction, is one node (`get_request_context` in
app/auth/dependencies.py) whose own sub-tree is a single leaf.

Every resource still reaches code through one of these aliases, so `app.dependency_overrides`
can swap it: override `get_resources` with `dataclasses.replace(resources, field=...)` to swap
any process-wide object (the Redis client, the session factory, the JWT codec, the publisher).
Domain aliases (`UserServiceDep`, ...) live in `app/<domain>/dependencies.py`.
"""

import functools
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Literal, cast

from fastapi import Depends, Request, Response
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import transaction
from app.core.errors import DatabaseUnavailableError, raises
from app.core.ratelimit import RateLimitedError, RateLimitUnavailableError
from app.core.resources import Resources
from app.http.problems import keep_on_error_responses


async def get_resources(request: Request) -> Resources:
    """What the lifespan opened (see `app.core.resources.open_resources`)."""
    return cast(Resources, request.app.state.resources)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> Settings:
    """The settings the resources were opened with (loaded once per process by
    `load_settings`). Overriding this reaches whatever declares `SettingsDep`; the request
    context reads the same object from the resources."""
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@raises(DatabaseUnavailableError)
async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit if the endpoint returned, roll back if anything raised
    (except an error marked `KeepsWrites`, whose writes commit first: `transaction`).

    Declared with `scope="function"` (below), so this code after `yield` runs when the endpoint
    returns and before the response is sent: a failed commit becomes an error response, and a
    2xx means the data is stored. With the default scope it would run after the response.
    For requests that do not authenticate (signup, login, refresh, health); an authenticated
    request's transaction is the one in its `RequestContext`.
    """
    async with transaction(resources.session_factory) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_redis(resources: ResourcesDep) -> Redis:
    """A client over the lifespan's pool (clients are cheap; the pool holds the connections)."""
    return resources.redis


RedisDep = Annotated[Redis, Depends(get_redis)]

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

    Over the limit: 429 problem with Retry-After. Under it: RateLimit-* headers on the response,
    whatever its status (a refused login counts, so it must show what is left).
    Memoised, so `rate_limit("signup_per_address")` is one overridable object.
    """

    @raises(RateLimitedError, RateLimitUnavailableError)
    async def limit(
        subject: Annotated[str, Depends(key)],
        request: Request,
        response: Response,
        resources: ResourcesDep,
    ) -> None:
        settings = resources.settings.rate_limit
        if not settings.enabled:
            return
        configured = getattr(settings, rule)
        state = await resources.rate_limiter.hit(
            rule,
            hashlib.sha256(subject.encode()).hexdigest()[:32],  # no emails in Redis keys
            limit=configured.limit,
            period_seconds=configured.period_seconds,
        )
        if not state.allowed:
            resources.metrics.count_rate_limit_rejection(rule)
            raise RateLimitedError("Too many attempts; retry later.", headers=state.headers())
        response.headers.update(state.headers())  # on the endpoint's response
        keep_on_error_responses(request, state.headers())  # on a problem response instead

    limit.__name__ = limit.__qualname__ = f"rate_limit_{rule}"
    return limit
