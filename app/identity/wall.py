"""The named ways across the tenant wall, for flows that learn their tenant midway (signup,
login, refresh, logout, the admin commands).

A request's tenant is normally known before the endpoint runs, and the request context binds
its transaction to it (`app.auth.dependencies.get_request_context`). These flows start outside
any tenant; each crossing they need is a method here: `enter` binds the transaction to a tenant
the flow has established; `tenant_of_refresh_token` asks the one SECURITY DEFINER function which
tenant issued a token, since a refresh request names none.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.tenancy import TenantSession, bind_tenant
from app.identity.models import Tenant
from app.identity.repository import UserRepository


@dataclass(frozen=True, slots=True)
class InsideTenant:
    """A transaction bound to one tenant (its row-level security setting names it)."""

    tenant_id: uuid.UUID
    session: TenantSession
    users: UserRepository


class TenantWall:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enter(self, tenant_id: uuid.UUID) -> InsideTenant:
        session = await bind_tenant(self.session, tenant_id)
        return InsideTenant(tenant_id, session, UserRepository(session, tenant_id))

    async def tenant_of_refresh_token(self, token_hash: str) -> uuid.UUID | None:
        return await self.session.scalar(select(func.refresh_token_tenant(token_hash)))

    async def tenant_is_active(self, tenant_id: uuid.UUID) -> bool:
        """Read from PostgreSQL, not the tenant cache, so a deactivation holds at once."""
        return bool(
            await self.session.scalar(select(Tenant.is_active).where(Tenant.id == tenant_id))
        )
