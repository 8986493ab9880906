"""Tenants and users created outside a request (the admin CLI), by the API's own code path.

The services are built by the API's own providers (`get_tenant_service`, `get_user_service`),
resolved with their whole graph by `resolved` (app/http/outside_request.py), on a session from
`transaction` (the API's unit of work). What a request gets from its token, a
command has to establish itself: the tenant is read by slug from PostgreSQL, and the acting
principal is the tenant's first active owner (earliest created); `acting_as` makes of them the
`RequestContext` the providers take.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.context import RequestContext, acting_as
from app.auth.dependencies import get_request_context
from app.cli.running import CommandError, transaction
from app.core.config import Settings
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.http.deps import get_resources, get_session
from app.http.outside_request import resolved
from app.identity.exceptions import EmailTakenError, TenantSlugTakenError
from app.identity.models import Role, User
from app.identity.repository import TenantRepository, UserRepository
from app.identity.schemas import Principal, TenantRead
from app.tenant.dependencies import get_tenant_service
from app.tenant.schemas import SignUpRequest
from app.tenant.service import SignUp, TenantService
from app.user.dependencies import get_user_service
from app.user.schemas import UserCreate

T = TypeVar("T")


def tenant_service(
    session: AsyncSession, resources: Resources
) -> AbstractAsyncContextManager[TenantService]:
    """`TenantServiceDep` as its route gets it, on the command's session."""
    return resolved(get_tenant_service, given={get_session: session, get_resources: resources})


async def active_tenant(session: AsyncSession, slug: str) -> TenantRead:
    """The tenant named `slug`, read from PostgreSQL (not the cache: the command writes)."""
    tenant = await TenantRepository(session).get_by_slug(slug.lower())
    if tenant is None or not tenant.is_active:
        raise CommandError(f"no active tenant has the slug {slug!r}")
    return TenantRead.model_validate(tenant)


async def tenant_users(session: AsyncSession, tenant: TenantRead) -> UserRepository:
    """The tenant's users, with the session bound to the tenant (row-level security)."""
    return UserRepository(await bind_tenant(session, tenant.id), tenant.id)


async def first_owner(users: UserRepository, tenant: TenantRead) -> Principal:
    """The principal commands act as: the tenant's earliest created active owner."""
    owner = next((u for u in await users.list_all() if u.role is Role.OWNER and u.is_active), None)
    if owner is None:
        raise CommandError(f"tenant {tenant.slug!r} has no active owner to act as")
    return Principal.model_validate(owner)


async def owner_context(
    session: AsyncSession, resources: Resources, tenant: TenantRead
) -> RequestContext:
    """The tenant's first active owner acting in `session`, as a request of theirs would."""
    actor = await first_owner(await tenant_users(session, tenant), tenant)
    return await acting_as(actor, tenant, session, resources)


def provided(
    provider: Callable[[RequestContext], Awaitable[T]], context: RequestContext
) -> AbstractAsyncContextManager[T]:
    """A domain service provider's value, as a request of the context's principal gets it
    (`resolved`, app/http/outside_request.py: the same graph, not a hand-written copy)."""
    return resolved(provider, given={get_request_context: context})


async def create_tenant(settings: Settings, resources: Resources, request: SignUpRequest) -> SignUp:
    """`POST /api/v1/tenants`: the tenant and its owner, in one transaction."""
    async with (
        transaction(resources) as session,
        tenant_service(session, resources) as service,
    ):
        try:
            return await service.sign_up(request)
        except TenantSlugTakenError:
            raise CommandError(f"tenant slug {request.slug!r} is taken") from None


@dataclass(frozen=True, slots=True)
class CreatedUser:
    user: User
    tenant: TenantRead
    actor: Principal


async def create_user(
    settings: Settings, resources: Resources, slug: str, request: UserCreate
) -> CreatedUser:
    """`POST /api/v1/users` in tenant `slug`, as its first active owner."""
    async with transaction(resources) as session:
        tenant = await active_tenant(session, slug)
        context = await owner_context(session, resources, tenant)
        async with provided(get_user_service, context) as service:
            try:
                user = await service.create(request)
            except EmailTakenError:
                raise CommandError(
                    f"{request.email.lower()!r} is already a user of tenant {tenant.slug!r}"
                ) from None
        return CreatedUser(user=user, tenant=tenant, actor=context.principal)
