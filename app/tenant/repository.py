from sqlalchemy import exists, select

from app.core.repository import Repository
from app.tenant.exceptions import TenantSlugTakenError
from app.tenant.models import Tenant


class TenantRepository(Repository[Tenant]):
    """Tenants are the root of tenancy: this repository is deliberately not tenant-scoped, and
    the `tenants` table has no row-level security (a tenant is looked up before it is known)."""

    model = Tenant
    constraint_errors = {"uq_tenants_slug": TenantSlugTakenError}

    async def slug_exists(self, slug: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Tenant.slug == slug))))

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(self._select().where(Tenant.slug == slug))
