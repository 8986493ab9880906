"""Tenants: signup (a tenant and its first owner, in the request's transaction) and the cached
directory that resolves a tenant by slug or id on every request."""

import uuid
from dataclasses import dataclass
from typing import Protocol

from app.core.cache import Cache, Fill
from app.core.security import PasswordHasher, require_password_length
from app.tenant.exceptions import TenantSlugTakenError
from app.tenant.models import Tenant
from app.tenant.repository import TenantRepository
from app.tenant.schemas import TenantRead
from app.user.models import Role, User
from app.user.repository import UserRepository


class UserScope(Protocol):
    @property
    def users(self) -> UserRepository: ...


class UserScopes(Protocol):
    """Binds the transaction to a tenant and hands out its user repository."""

    async def enter(self, tenant_id: uuid.UUID) -> UserScope: ...


@dataclass(frozen=True, slots=True)
class SignUp:
    tenant: Tenant
    owner: User


class TenantService:
    def __init__(
        self,
        tenants: TenantRepository,
        scopes: UserScopes,
        hasher: PasswordHasher,
        *,
        password_min_length: int,
    ) -> None:
        self.tenants = tenants
        self.scopes = scopes
        self.hasher = hasher
        self.password_min_length = password_min_length

    async def sign_up(
        self, *, name: str, slug: str, email: str, password: str, full_name: str
    ) -> SignUp:
        require_password_length(password, self.password_min_length)
        # A friendly early answer; the unique constraint still settles a race (see the repository).
        if await self.tenants.slug_exists(slug):
            raise TenantSlugTakenError(f"The slug {slug!r} is already taken.")
        tenant = await self.tenants.add(Tenant(name=name, slug=slug))
        # The owner row is tenant-owned: the transaction now acts for the new tenant.
        scope = await self.scopes.enter(tenant.id)
        owner = await scope.users.add(
            User(
                email=email.lower(),
                password_hash=await self.hasher.hash(password),
                full_name=full_name,
                role=Role.OWNER,
            )
        )
        return SignUp(tenant=tenant, owner=owner)


# One generation for the whole directory: tenants change rarely, and a slug's entry cannot name
# its tenant's generation before it is read.
DIRECTORY = "tenants"


def tenant_id_key(tenant_id: uuid.UUID) -> str:
    return f"tenant:id:{tenant_id}"


def tenant_slug_key(slug: str) -> str:
    return f"tenant:slug:{slug}"


class TenantDirectory:
    """Tenant lookups for every request, cache-aside (keys by slug and by id). Entries are
    versioned under one generation (`cache:gen:tenants`): moving it on retires them all."""

    def __init__(self, tenants: TenantRepository, cache: Cache, *, ttl_seconds: int) -> None:
        self.tenants = tenants
        self.cache = cache
        self.ttl = ttl_seconds

    async def by_slug(self, slug: str) -> TenantRead | None:
        key = tenant_slug_key(slug)
        cached, generation = await self.cache.get_fresh(key, DIRECTORY, TenantRead)
        if cached is not None:
            return cached
        return await self._remember(key, await self.tenants.get_by_slug(slug), generation)

    async def by_id(self, tenant_id: uuid.UUID) -> TenantRead | None:
        key = tenant_id_key(tenant_id)
        cached, generation = await self.cache.get_fresh(key, DIRECTORY, TenantRead)
        if cached is not None:
            return cached
        return await self._remember(key, await self.tenants.get(tenant_id), generation)

    async def _remember(
        self, key: str, row: Tenant | None, generation: object
    ) -> TenantRead | None:
        if row is None:
            return None
        tenant = TenantRead.model_validate(row)
        await self.cache.fill([Fill(key, tenant, generation, self.ttl)])
        return tenant
