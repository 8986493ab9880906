"""Finding tenants and users. Tenants are the root of tenancy; users are tenant-owned."""

import uuid
from collections.abc import Sequence

from sqlalchemy import exists, func, select

from app.core.repository import Repository, TenantOwnedRepository
from app.identity.exceptions import (
    EmailTakenError,
    TenantNotFoundError,
    TenantSlugTakenError,
    UserNotFoundError,
)
from app.identity.models import Role, Tenant, User


class TenantRepository(Repository[Tenant]):
    """Tenants are the root of tenancy: this repository is deliberately not tenant-owned, and
    the `tenants` table has no row-level security (a tenant is looked up before it is known)."""

    model = Tenant
    not_found = TenantNotFoundError
    constraint_errors = {"uq_tenants_slug": TenantSlugTakenError}

    async def slug_exists(self, slug: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Tenant.slug == slug))))

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(self._select().where(Tenant.slug == slug))


class UserRepository(TenantOwnedRepository[User]):
    model = User
    not_found = UserNotFoundError
    constraint_errors = {"uq_users_tenant_id_email": EmailTakenError}

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(self._select().where(User.email == email.lower()))

    async def list_all(self) -> Sequence[User]:
        statement = self._select().order_by(User.created_at, User.id)
        return (await self.session.scalars(statement)).all()

    async def lock_active_owners(self) -> list[uuid.UUID]:
        """Lock the tenant's active owners (FOR UPDATE) and return their ids, so two concurrent
        demotions cannot both see "another owner remains" and leave the tenant with none."""
        statement = (
            select(User.id)
            .where(User.tenant_id == self.tenant_id, User.role == Role.OWNER, User.is_active)
            .order_by(User.id)
            .with_for_update()
        )
        return list((await self.session.scalars(statement)).all())

    async def count(self) -> int:
        statement = select(func.count()).select_from(User).where(User.tenant_id == self.tenant_id)
        return int(await self.session.scalar(statement) or 0)
