"""Authentication: login, refresh rotation, logout, and verifying who is calling."""

import logging
import math
import uuid
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from app.auth.exceptions import (
    InvalidCredentialsError,
    InvalidTokenError,
    ReusedRefreshTokenError,
)
from app.auth.models import RefreshToken
from app.auth.repository import refresh_tokens
from app.auth.schemas import TokenPair
from app.core.redis import RedisCircuit, skipped
from app.core.security import (
    AccessClaims,
    JWTCodec,
    PasswordHasher,
    hash_refresh_token,
    new_refresh_token,
)
from app.identity.schemas import TenantRead
from app.identity.wall import TenantWall

logger = logging.getLogger("app.auth")


def denied_token_key(token_id: str) -> str:
    return f"denylist:jti:{token_id}"


def denied_family_key(family_id: uuid.UUID) -> str:
    return f"denylist:family:{family_id}"


# Since when (a Unix time) this Redis has held every denial: set when a request finds it missing,
# which is how a Redis that restarted empty (no persistence) shows itself. A token issued before
# it may have been logged out before the restart, so its family is checked in PostgreSQL; such
# tokens expire within one access TTL of the mark. (`Authenticator._snapshot`.)
DENYLIST_SINCE = "denylist:since"


class Revocations:
    """The access-token denylist in Redis: a token's `jti`, or its whole refresh family, for as
    long as `JWTCodec.decode` would still accept a token it covers. PostgreSQL (revoked refresh
    families) stays the source of truth and answers when Redis cannot. The check is part of
    the request context's one Redis round trip (`app.auth.context.Authenticator`)."""

    def __init__(self, redis: Redis, circuit: RedisCircuit) -> None:
        self.redis = redis
        self.circuit = circuit

    async def deny(
        self, claims: AccessClaims, *, token_for: timedelta, family_for: timedelta
    ) -> None:
        """Deny this token and every other access token of its refresh family (its session)."""
        await self._deny(
            {
                denied_token_key(claims.token_id): token_for,
                denied_family_key(claims.family_id): family_for,
            }
        )

    async def deny_family(self, family_id: uuid.UUID, *, family_for: timedelta) -> None:
        await self._deny({denied_family_key(family_id): family_for})

    async def _deny(self, entries: dict[str, timedelta]) -> None:
        async def write() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, lifetime in entries.items():
                    # Rounded up to the millisecond: an entry never ends before its token does.
                    pipe.set(key, "1", px=max(math.ceil(lifetime.total_seconds() * 1000), 1))
                await pipe.execute()

        # Without Redis, skipped: the family is revoked in PostgreSQL by the caller; see docs
        # for the residual window.
        await self.circuit.call("denylist write", write, fallback=skipped)


class AuthService:
    def __init__(
        self,
        wall: TenantWall,
        hasher: PasswordHasher,
        codec: JWTCodec,
        revocations: Revocations,
        *,
        refresh_ttl_seconds: int,
    ) -> None:
        self.wall = wall
        self.hasher = hasher
        self.codec = codec
        self.revocations = revocations
        self.refresh_ttl = timedelta(seconds=refresh_ttl_seconds)

    async def login(self, *, tenant: TenantRead, email: str, password: str) -> TokenPair:
        inside = await self.wall.enter(tenant.id)
        user = await inside.users.get_by_email(email)
        # Verify even without a user (against a dummy hash), so timing does not reveal emails.
        valid, new_hash = await self.hasher.verify_and_update(
            password, user.password_hash if user else None
        )
        if user is None or not valid or not user.is_active:
            raise InvalidCredentialsError
        if new_hash is not None:
            user.password_hash = new_hash  # parameters changed since it was hashed
        return await self._issue(
            user_id=user.id, tenant_id=tenant.id, role=user.role.value, family_id=uuid.uuid4()
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        token_hash = hash_refresh_token(refresh_token)
        tenant_id = await self.wall.tenant_of_refresh_token(token_hash)
        if tenant_id is None:
            raise InvalidTokenError("Unknown refresh token.")
        if not await self.wall.tenant_is_active(tenant_id):
            # Every other route answers 404 for a deactivated tenant; here the token is what
            # cannot be used, so it is the 401 of any unusable refresh token.
            raise InvalidTokenError("The refresh token's tenant is inactive.")
        inside = await self.wall.enter(tenant_id)
        stored = await refresh_tokens(inside).get_by_hash(token_hash)
        now = datetime.now(UTC)
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise InvalidTokenError("The refresh token is expired or revoked.")
        if stored.spent_at is not None:
            # A spent token came back: it was stolen or replayed. Revoke the whole family. The
            # request fails, yet this write must be kept: the error is marked `KeepsWrites`.
            await refresh_tokens(inside).revoke_family(stored.family_id)
            await self.revocations.deny_family(
                stored.family_id, family_for=self._family_denial(now)
            )
            raise ReusedRefreshTokenError(stored.family_id)
        user = await inside.users.get(stored.user_id)
        if user is None or not user.is_active:
            raise InvalidTokenError("The token's user no longer exists or is inactive.")
        stored.spent_at = now
        return await self._issue(
            user_id=user.id, tenant_id=tenant_id, role=user.role.value, family_id=stored.family_id
        )

    async def logout(self, claims: AccessClaims) -> None:
        """Revoke the session: every refresh token of the family (one minted concurrently too,
        see `RefreshTokenRepository.revoke_family`) and every access token it issued. Works
        for a deactivated tenant as well: a session can always be ended."""
        inside = await self.wall.enter(claims.tenant_id)
        await refresh_tokens(inside).revoke_family(claims.family_id)
        now = datetime.now(UTC)
        await self.revocations.deny(
            claims,
            token_for=self.codec.accepted_until(claims.expires_at) - now,
            family_for=self._family_denial(now),
        )

    def _family_denial(self, now: datetime) -> timedelta:
        """How long a revoked family's access tokens must stay denied: the newest one was issued
        no later than `now` (a later refresh finds the family revoked), so it expires within one
        access TTL, and `decode` accepts it for the leeway beyond that."""
        return self.codec.accepted_until(now + timedelta(seconds=self.codec.ttl_seconds)) - now

    async def _issue(
        self, *, user_id: uuid.UUID, tenant_id: uuid.UUID, role: str, family_id: uuid.UUID
    ) -> TokenPair:
        inside = await self.wall.enter(tenant_id)
        refresh_token = new_refresh_token()
        await refresh_tokens(inside).add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh_token),
                expires_at=datetime.now(UTC) + self.refresh_ttl,
            )
        )
        access = self.codec.issue(
            user_id=user_id, tenant_id=tenant_id, role=role, family_id=family_id
        )
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh_token,
            expires_in=self.codec.ttl_seconds,
        )
