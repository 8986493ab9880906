"""Who exists, as the cache holds it: the keys of tenants and principals, and the directory that
resolves a tenant by slug or id on every request.

A user appears in the cache as the entry that authentication reads (the principal), under the
subject whose generation `UserService` bumps when the user's role, state or existence changes.
"""

import uuid
from collections.abc import Awaitable, Callable

from app.core.cache import Cache, get_or_load
from app.identity.models import Tenant
from app.identity.repository import TenantRepository
from app.identity.schemas import TenantRead


def principal_key(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"principal:{tenant_id}:{user_id}"


def user_subject(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"user:{tenant_id}:{user_id}"


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
        return await self._read_through(key, lambda: self.tenants.get_by_slug(slug))

    async def by_id(self, tenant_id: uuid.UUID) -> TenantRead | None:
        key = tenant_id_key(tenant_id)
        return await self._read_through(key, lambda: self.tenants.get(tenant_id))

    async def _read_through(
        self, key: str, query: Callable[[], Awaitable[Tenant | None]]
    ) -> TenantRead | None:
        async def load() -> TenantRead | None:
            row = await query()
            return TenantRead.model_validate(row) if row is not None else None

        return await get_or_load(
            self.cache, key, TenantRead, load, ttl_seconds=self.ttl, subject=DIRECTORY
        )
