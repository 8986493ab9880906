"""The chains that guard every request: who is calling, for which tenant, with which rights.

    bearer token -> get_token_claims -> get_principal ─┐
    resolve_tenant (X-Tenant or subdomain) ────────────┴-> get_tenant -> get_tenant_session
    require_role(Role.X) = principal + tenant + role check; the route's OpenAPI scope

Read an endpoint's signature and follow these aliases: nothing else authenticates a request.
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Header, Request, Security
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import (
    CacheDep,
    JWTCodecDep,
    PasswordHasherDep,
    RedisDep,
    ResourcesDep,
    SessionDep,
    SettingsDep,
    TenantScopesDep,
    rate_limit,
)
from app.api.schemas import Text
from app.auth.exceptions import InsufficientRoleError, MissingTokenError, TenantMismatchError
from app.auth.schemas import Principal
from app.auth.service import AuthService, PrincipalLoader, Revocations, TokenVerifier
from app.core.context import tenant_id_var, user_id_var
from app.core.security import AccessClaims
from app.core.tenancy import bind_tenant
from app.tenant.dependencies import TenantDirectoryDep
from app.tenant.exceptions import TenantNotFoundError
from app.tenant.schemas import TenantRead
from app.user.models import Role

# Scopes name the minimum role a route needs; `require_role` declares them, so the OpenAPI
# document (and Swagger's Authorize dialog) shows what each route requires.
ROLE_SCOPES = {
    Role.VIEWER.value: "Read the tenant's data",
    Role.MEMBER.value: "Write projects and tasks",
    Role.ADMIN.value: "Manage users and feature flags",
    Role.OWNER.value: "Manage admins and owners",
}

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", scopes=ROLE_SCOPES, auto_error=False)


async def get_revocations(redis: RedisDep, resources: ResourcesDep) -> Revocations:
    return Revocations(redis, resources.redis_circuit)


RevocationsDep = Annotated[Revocations, Depends(get_revocations)]


async def get_token_claims(
    token: Annotated[str | None, Depends(bearer)],
    codec: JWTCodecDep,
    revocations: RevocationsDep,
    scopes: TenantScopesDep,
) -> AccessClaims:
    """A valid, unrevoked access token's claims, or 401."""
    if not token:
        raise MissingTokenError
    return await TokenVerifier(codec, revocations, scopes).verify(token)


TokenClaimsDep = Annotated[AccessClaims, Depends(get_token_claims)]


async def get_principal(
    claims: TokenClaimsDep, scopes: TenantScopesDep, cache: CacheDep, settings: SettingsDep
) -> Principal:
    """The calling user: exists, active, role as stored now (cached briefly in Redis)."""
    loader = PrincipalLoader(scopes, cache, ttl_seconds=settings.cache.principal_ttl_seconds)
    principal = await loader.load(claims)
    user_id_var.set(str(principal.id))
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _subdomain(request: Request, base_domain: str | None) -> str | None:
    host = (request.headers.get("host") or "").split(":", 1)[0].lower()
    if base_domain and host.endswith("." + base_domain):
        label = host.removesuffix("." + base_domain)
        return label if "." not in label else None
    return None


async def resolve_tenant(
    request: Request,
    settings: SettingsDep,
    directory: TenantDirectoryDep,
    x_tenant: Annotated[
        Text | None,
        Header(alias="X-Tenant", description="Tenant slug (when TENANCY__RESOLVER=header)."),
    ] = None,
) -> TenantRead | None:
    """The tenant the request names (header or subdomain, per settings), or None if it names
    none. Unknown and inactive tenants are refused with 404."""
    if settings.tenancy.resolver == "header":
        slug = x_tenant
    else:
        slug = _subdomain(request, settings.tenancy.base_domain)
    if not slug:
        return None
    tenant = await directory.by_slug(slug.lower())
    if tenant is None or not tenant.is_active:
        raise TenantNotFoundError(f"No active tenant is named {slug!r}.")
    return tenant


NamedTenantDep = Annotated[TenantRead | None, Depends(resolve_tenant)]


async def get_tenant(
    principal: PrincipalDep, named: NamedTenantDep, directory: TenantDirectoryDep
) -> TenantRead:
    """The tenant this request acts for: the token's. Naming another one is 403."""
    if named is not None and named.id != principal.tenant_id:
        raise TenantMismatchError("The token was issued for another tenant.")
    tenant = named or await directory.by_id(principal.tenant_id)
    if tenant is None or not tenant.is_active:
        raise TenantNotFoundError("The token's tenant is inactive.")
    tenant_id_var.set(str(tenant.id))
    return tenant


TenantDep = Annotated[TenantRead, Depends(get_tenant)]


async def get_tenant_session(session: SessionDep, tenant: TenantDep) -> AsyncSession:
    """The request's session, with row-level security bound to the tenant (`SET LOCAL`)."""
    await bind_tenant(session, tenant.id)
    return session


TenantSessionDep = Annotated[AsyncSession, Depends(get_tenant_session)]

RoleGuard = Callable[..., Awaitable[Principal]]


@functools.cache
def require_role(minimum: Role) -> RoleGuard:
    """A guard for routes that need at least `minimum`: 401 without a valid token, 403 below
    the role. Memoised, so `require_role(Role.ADMIN)` is one object that tests can override.

    The OpenAPI scope is declared on a second use of the bearer scheme, not on the principal
    chain: FastAPI keys its per-request cache by (dependency, scopes), so a principal resolved
    under a scope would be resolved again, with its queries, wherever it is also used plainly.
    """

    async def guard(
        principal: PrincipalDep,
        tenant: TenantDep,
        _scope: Annotated[str | None, Security(bearer, scopes=[minimum.value])],
    ) -> Principal:
        if not principal.role.at_least(minimum):
            raise InsufficientRoleError(f"This action needs the {minimum.value} role or higher.")
        return principal

    guard.__name__ = guard.__qualname__ = f"require_{minimum.value}"
    return guard


ViewerDep = Annotated[Principal, Depends(require_role(Role.VIEWER))]
MemberDep = Annotated[Principal, Depends(require_role(Role.MEMBER))]
AdminDep = Annotated[Principal, Depends(require_role(Role.ADMIN))]
OwnerDep = Annotated[Principal, Depends(require_role(Role.OWNER))]


async def get_auth_service(
    scopes: TenantScopesDep,
    hasher: PasswordHasherDep,
    codec: JWTCodecDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> AuthService:
    return AuthService(
        scopes,
        hasher,
        codec,
        revocations,
        refresh_ttl_seconds=settings.auth.refresh_ttl_seconds,
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


async def login_account(form: LoginFormDep, request: Request) -> str:
    """Who a login attempt is for: tenant (as named) and email, before either is verified."""
    tenant = request.headers.get("x-tenant") or request.headers.get("host") or ""
    return f"{tenant.lower()}:{form.username.lower()}"


login_rate_limits = [
    Depends(rate_limit("login_per_address")),
    Depends(rate_limit("login_per_account", login_account)),
]
