"""Refresh tokens: one row per token issued, in families (one family per login session)."""

import uuid
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import USER_GONE, InvalidTokenError
from app.auth.models import RefreshToken
from app.core.repository import TenantOwnedRepository
from app.identity.wall import InsideTenant


class RefreshTokenRepository(TenantOwnedRepository[RefreshToken]):
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


def refresh_tokens(inside: InsideTenant) -> RefreshTokenRepository:
    """The refresh tokens of the tenant a flow has entered."""
    return RefreshTokenRepository(inside.session, inside.tenant_id)


class ExpiredRefreshTokens:
    """Every tenant's long-expired refresh tokens, for the worker's housekeeping. Not a
    `Repository`: it calls the one function that may cross tenants for this."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge(self, *, grace_seconds: int) -> int:
        """Delete the tokens that expired more than `grace_seconds` ago; returns how many.

        A spent token is kept until then, because presenting it again is how a stolen token is
        detected; a revoked one too, because while Redis is down authentication asks whether
        the token's family is revoked (`family_revoked`). Through `purge_expired_refresh_tokens`
        (SECURITY DEFINER, see the outbox migration), which refuses a grace under a minute.
        """
        deleted = await self.session.scalar(
            select(func.purge_expired_refresh_tokens(grace_seconds))
        )
        return int(deleted or 0)
