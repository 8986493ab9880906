"""The chains that guard every request: who is calling, for which tenant, with which rights.

    get_resources -> get_request_context -+-> require_role(Role.X)  (+ the route's OAuth2 scope)
    (a leaf)         (authenticates; owns |-> get_<domain>_service  (app/<domain>/dependencies.py)
                     the bound session)   |-> get_read_session -> get_<domain>_reader (GET routes)
                                          +-> require_feature(key), idempotency

One node, `get_request_context`, does the deep work once: token, denylist, principal, tenant,
and the tenant-bound transaction. Everything that needs the caller takes that node, whose own
sub-tree is a single leaf, so FastAPI's walk (which revisits a dependency's sub-tree wherever it
is declared) stays small. Public flows use the smaller chains at the bottom (login form, tenant
named by the request, token claims for logout).
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Header, Request, Security
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.context import Authenticator, RequestContext
from app.auth.exceptions import (
    InsufficientRoleError,
    InvalidTokenError,
    MissingTokenError,
    TenantMismatchError,
)
from app.auth.service import AuthService, Revocations
from app.core.config import Settings
from app.core.context import tenant_id_var, user_id_var
from app.core.db import after_commit, transaction
from app.core.errors import DatabaseUnavailableError, raises
from app.core.replica import ReadReplica, writer_key
from app.core.resources import Resources
from app.core.security import AccessClaims
from app.core.tenancy import TenantReadSession, as_read_session, read_only
from app.http.deps import ResourcesDep, SessionDep, rate_limit
from app.http.schemas import Text
from app.identity.cache import TenantDirectory
from app.identity.exceptions import TenantNotFoundError
from app.identity.models import Role
from app.identity.repository import TenantRepository
from app.identity.schemas import Principal, TenantRead
from app.identity.wall import TenantWall

# Scopes name the minimum role a route needs; `require_role` declares them, so the OpenAPI
# document (and Swagger's Authorize dialog) shows what each route requires.
ROLE_SCOPES = {
    Role.VIEWER.value: "Read the tenant's data",
    Role.MEMBER.value: "Write the tenant's data",
    Role.ADMIN.value: "Manage users and the tenant's settings",
    Role.OWNER.value: "Manage admins and owners",
}

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", scopes=ROLE_SCOPES, auto_error=False)

AuthorizationHeader = Annotated[
    Text | None,
    # Read as a plain header, not through `bearer`: a security scheme in this sub-tree would
    # make FastAPI key the context's cache entry by OAuth2 scopes. The scheme (and the scopes
    # each route needs) is declared by the role guards, which is what the OpenAPI shows.
    Header(alias="Authorization", include_in_schema=False),
]
XTenantHeader = Annotated[
    Text | None,
    Header(alias="X-Tenant", description="Tenant slug (when TENANCY__RESOLVER=header)."),
]


def bearer_token(authorization: str | None) -> str | None:
    scheme, token = get_authorization_scheme_param(authorization)
    return token if authorization and scheme.lower() == "bearer" else None


def named_tenant_slug(request: Request, settings: Settings, x_tenant: str | None) -> str | None:
    """The tenant slug the request names, normalised as the resolver sees it: the `X-Tenant`
    header or the subdomain of `Host` (port dropped), per settings, lower-cased."""
    if settings.tenancy.resolver == "header":
        slug = x_tenant
    else:
        base = settings.tenancy.base_domain
        host = (request.headers.get("host") or "").split(":", 1)[0].lower()
        label = host.removesuffix("." + base) if base and host.endswith("." + base) else ""
        slug = label if label and "." not in label else None
    return slug.strip().lower() if slug and slug.strip() else None


# --- the authenticated request ----------------------------------------------------------------


@raises(
    MissingTokenError,
    InvalidTokenError,
    TenantNotFoundError,
    TenantMismatchError,
    DatabaseUnavailableError,
)
async def get_request_context(
    resources: ResourcesDep,
    request: Request,
    authorization: AuthorizationHeader = None,
    x_tenant: XTenantHeader = None,
) -> AsyncIterator[RequestContext]:
    """The authenticated, tenant-bound request: 401 without a valid, unrevoked token of an
    active user; 404 when the token's tenant is inactive; 403 when the request names another
    tenant. Owns the request's transaction: committed when the endpoint returns (before the
    response, `scope="function"`), rolled back if anything raised (unless it is `KeepsWrites`)."""
    async with transaction(resources.session_factory) as session:
        safe = request.method in SAFE_METHODS
        if safe:
            read_only(session)  # a GET never writes: its transaction is READ ONLY, at no cost
        caller = await Authenticator(resources, session).authenticate(bearer_token(authorization))
        named = named_tenant_slug(request, resources.settings, x_tenant)
        if named is not None and named != caller.tenant.slug:
            raise TenantMismatchError("The token was issued for another tenant.")
        user_id_var.set(str(caller.principal.id))
        tenant_id_var.set(str(caller.tenant.id))
        if resources.replica is not None and not safe:
            _remember_writes(resources, resources.replica, session, caller.principal)
        yield RequestContext(
            principal=caller.principal,
            tenant=caller.tenant,
            session=caller.session,
            resources=resources,
        )


RequestContextDep = Annotated[RequestContext, Depends(get_request_context, scope="function")]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _remember_writes(
    resources: Resources, replica: ReadReplica, session: AsyncSession, principal: Principal
) -> None:
    """Read-your-writes: once this request's transaction commits, the replica must replay it
    before it serves this caller again (`ReadReplica.remember_write`). Only a committed
    transaction calls it back: a request that wrote nothing, or rolled back, costs nothing."""
    reader = writer_key(principal.tenant_id, principal.id)
    after_commit(session, lambda: replica.remember_write(resources.engine, resources.redis, reader))


async def get_read_session(context: RequestContextDep) -> AsyncIterator[TenantReadSession]:
    """The session of a read-only route: on the replica when one is configured, reachable,
    within the lag bound and past the caller's last write; otherwise the request's own session
    (the same object and connection: no replica, no cost). READ ONLY either way, and bound to
    the caller's tenant, so row-level security holds on the replica too. A distinct type
    (`TenantReadSession`): what takes it can only read (docs/dependency-injection.md)."""
    replica = context.resources.replica
    if replica is None:
        yield as_read_session(context.session)
        return
    reader = writer_key(context.tenant_id, context.principal.id)
    async with replica.session(context.tenant_id, reader, context.resources.redis) as session:
        yield session if session is not None else as_read_session(context.session)


ReadSessionDep = Annotated[TenantReadSession, Depends(get_read_session, scope="function")]

RoleGuard = Callable[..., Awaitable[Principal]]


@functools.cache
def require_role(minimum: Role) -> RoleGuard:
    """A guard for routes that need at least `minimum`: 401 without a valid token, 403 below
    the role. Memoised, so `require_role(Role.ADMIN)` is one object that tests can override.

    The OpenAPI scope is declared on the bearer scheme beside the context, not on the context:
    FastAPI keys its per-request cache by (dependency, scopes), so a context resolved under a
    scope would be resolved again, with its queries, wherever it is also used plainly.
    """

    @raises(InsufficientRoleError)
    async def guard(
        context: RequestContextDep,
        _bearer: Annotated[str | None, Security(bearer, scopes=[minimum.value])],
    ) -> Principal:
        if not context.principal.role.at_least(minimum):
            raise InsufficientRoleError(f"This action needs the {minimum.value} role or higher.")
        return context.principal

    guard.__name__ = guard.__qualname__ = f"require_{minimum.value}"
    return guard


ViewerDep = Annotated[Principal, Depends(require_role(Role.VIEWER))]
MemberDep = Annotated[Principal, Depends(require_role(Role.MEMBER))]
AdminDep = Annotated[Principal, Depends(require_role(Role.ADMIN))]


# --- public flows: login, refresh, logout -----------------------------------------------------


@raises(MissingTokenError, InvalidTokenError)
async def get_token_claims(
    resources: ResourcesDep,
    session: SessionDep,
    authorization: AuthorizationHeader = None,
    _token: Annotated[str | None, Security(bearer)] = None,
) -> AccessClaims:
    """A valid, unrevoked access token's claims, or 401. Neither its user nor its tenant need
    be active (logout must still end the session of a deactivated tenant)."""
    return await Authenticator(resources, session).verify(bearer_token(authorization))


TokenClaimsDep = Annotated[AccessClaims, Depends(get_token_claims)]


async def get_tenant_slug(
    request: Request, resources: ResourcesDep, x_tenant: XTenantHeader = None
) -> str | None:
    return named_tenant_slug(request, resources.settings, x_tenant)


TenantSlugDep = Annotated[str | None, Depends(get_tenant_slug)]


@raises(TenantNotFoundError)
async def resolve_tenant(
    slug: TenantSlugDep, session: SessionDep, resources: ResourcesDep
) -> TenantRead | None:
    """The tenant an unauthenticated request names, or None if it names none. Unknown and
    inactive tenants are refused with 404."""
    if slug is None:
        return None
    directory = TenantDirectory(
        TenantRepository(session),
        resources.cache,
        ttl_seconds=resources.settings.cache.tenant_ttl_seconds,
    )
    tenant = await directory.by_slug(slug)
    if tenant is None or not tenant.is_active:
        raise TenantNotFoundError(f"No active tenant is named {slug!r}.")
    return tenant


NamedTenantDep = Annotated[TenantRead | None, Depends(resolve_tenant)]


async def get_auth_service(session: SessionDep, resources: ResourcesDep) -> AuthService:
    return AuthService(
        TenantWall(session),
        resources.password_hasher,
        resources.jwt,
        Revocations(resources.redis, resources.redis_circuit),
        refresh_ttl_seconds=resources.settings.auth.refresh_ttl_seconds,
    )


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


@dataclass(frozen=True, slots=True)
class LoginForm:
    username: str
    password: str


async def get_login_form(
    username: Annotated[Text, Form(max_length=320, description="The account's email.")],
    password: Annotated[Text, Form(max_length=1024)],
    grant_type: Annotated[Text | None, Form(pattern="^password$")] = None,
) -> LoginForm:
    """The OAuth2 password-flow form. An async function rather than FastAPI's
    `OAuth2PasswordRequestForm` class, which as a sync callable would run in a worker thread."""
    return LoginForm(username=username, password=password)


LoginFormDep = Annotated[LoginForm, Depends(get_login_form)]


async def login_account(form: LoginFormDep, slug: TenantSlugDep) -> str:
    """Who a login attempt is for: the tenant as the resolver reads it (the subdomain without
    its port, or the header, never both) and the email, normalised, before either is verified.
    Another spelling of the same account therefore counts in the same bucket."""
    return f"{slug or ''}:{form.username.strip().lower()}"


login_rate_limits = [
    Depends(rate_limit("login_per_address")),
    Depends(rate_limit("login_per_account", login_account)),
]
