"""Refresh tokens, and the narrow crossings of the tenant wall that authentication needs."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import USER_GONE, InvalidTokenError
from app.auth.models import RefreshToken
from app.core.repository import TenantScopedRepository
from app.core.tenancy import bind_tenant
from app.tenant.models import Tenant
from app.user.repository import UserRepository


class RefreshTokenRepository(TenantScopedRepository[RefreshToken]):
    model = RefreshToken
    constraint_errors = {
        # The user was deleted while a token was being issued for them.
        "fk_refresh_tokens_user_id_users": partial(InvalidTokenError, USER_GONE),
    }
    constraints_not_hit = {
        "uq_refresh_tokens_token_hash": "the SHA-256 of 256 random bits (`new_refresh_token`)",
    }

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = self._select().where(RefreshToken.token_hash == token_hash).with_for_update()
        return await self.session.scalar(statement)

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        """Revoke every token of the family, including one that a concurrent refresh mints.

        Under READ COMMITTED (PostgreSQL's default, and the app's) one UPDATE sees the rows that
        were committed when it started. When it waits on a token that a refresh has locked, the
        refresh's new token commits while the UPDATE waits, and that UPDATE never sees it. So
        the UPDATE runs again, each pass a new statement with a new snapshot, until a pass
        finds nothing left to revoke. After that no refresh can mint one: it would have to lock
        a token this transaction has revoked and still holds, so it waits for the commit and
        then reads the token as revoked (`get_by_hash` locks, so it reads the committed row).
        Proof: `tests/auth/test_session_races.py`.
        """
        statement = (
            update(RefreshToken)
            .where(
                RefreshToken.tenant_id == self.tenant_id,
                RefreshToken.family_id == family_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=datetime.now(UTC))
            .returning(RefreshToken.id)
        )
        while True:
            revoked = (await self.session.execute(statement)).all()
            if not revoked:
                return

    async def family_revoked(self, family_id: uuid.UUID) -> bool:
        statement = select(
            self._select()
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
            .exists()
        )
        return bool(await self.session.scalar(statement))


@dataclass(frozen=True, slots=True)
class TenantScope:
    """Repositories bound to one tenant, in a transaction whose RLS setting names it."""

    tenant_id: uuid.UUID
    users: UserRepository
    refresh_tokens: RefreshTokenRepository


class TenantScopes:
    """For flows that learn their tenant midway (signup, login, refresh, loading the caller).

    Each way across the wall is a named method: `enter` binds the transaction to a tenant the
    flow has established; `tenant_of_refresh_token` asks the one SECURITY DEFINER function
    which tenant issued a token, since a refresh request names none.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enter(self, tenant_id: uuid.UUID) -> TenantScope:
        await bind_tenant(self.session, tenant_id)
        return TenantScope(
            tenant_id=tenant_id,
            users=UserRepository(self.session, tenant_id),
            refresh_tokens=RefreshTokenRepository(self.session, tenant_id),
        )

    async def tenant_of_refresh_token(self, token_hash: str) -> uuid.UUID | None:
        return await self.session.scalar(select(func.refresh_token_tenant(token_hash)))

    async def tenant_is_active(self, tenant_id: uuid.UUID) -> bool:
        """Read from PostgreSQL, not the tenant cache, so a deactivation holds at once."""
        return bool(
            await self.session.scalar(select(Tenant.is_active).where(Tenant.id == tenant_id))
        )
