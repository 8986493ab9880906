"""Who is calling, for which tenant, in which transaction: the request context.

`get_request_context` (app/auth/dependencies.py) builds one `RequestContext` per authenticated
request with the `Authenticator` below, and every guard and service provider takes that one
node. Framework-free: no FastAPI here, so the CLI and tests can authenticate a token too.

The hot path costs one Redis round trip: the token is verified without I/O (signature, claims),
then a single pipeline asks for the denylist entries, the cached principal and the cached
tenant, each with its generation (see `app.core.cache`). PostgreSQL is asked only for what
Redis could not answer, in the request's own transaction, already bound to the token's tenant.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import InvalidTokenError, MissingTokenError
from app.auth.repository import RefreshTokenRepository
from app.auth.service import DENYLIST_SINCE, denied_family_key, denied_token_key
from app.core.cache import Fill, entry_key, generation_key, read_fresh
from app.core.config import Settings
from app.core.redis import skipped
from app.core.resources import Resources
from app.core.security import AccessClaims, MalformedTokenError
from app.core.tenancy import TenantSession, act_for_tenant
from app.identity.cache import DIRECTORY, principal_key, tenant_id_key, user_subject
from app.identity.exceptions import TenantNotFoundError
from app.identity.repository import TenantRepository, UserRepository
from app.identity.schemas import Principal, TenantRead


def denylist_keys(claims: AccessClaims) -> tuple[str, str]:
    """The token's own entry and its session's (refresh family's) entry."""
    return denied_token_key(claims.token_id), denied_family_key(claims.family_id)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """An authenticated request: the caller as stored now, their active tenant, and the
    request's one transaction, bound to that tenant for row-level security (on its first
    statement). Services take what they need from it in their providers."""

    principal: Principal
    tenant: TenantRead
    session: TenantSession
    resources: Resources

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    @property
    def settings(self) -> Settings:
        return self.resources.settings


async def acting_as(
    principal: Principal, tenant: TenantRead, session: AsyncSession, resources: Resources
) -> RequestContext:
    """A context outside a request (the admin CLI): `principal` acts in `tenant`, in `session`'s
    transaction, bound to the tenant as a request's is. The service providers accept it as is."""
    bound = await act_for_tenant(session, tenant.id)
    return RequestContext(principal, tenant, bound, resources)


@dataclass(frozen=True, slots=True)
class Caller:
    claims: AccessClaims
    principal: Principal
    tenant: TenantRead
    session: TenantSession  # bound to the token's tenant


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What one Redis round trip told: None where Redis had no (fresh) answer."""

    denied: bool | None
    complete: bool = True  # the denylist can be trusted for this token (`_denylist_covers`)
    principal: Principal | None = None
    principal_generation: object = None
    tenant: TenantRead | None = None
    tenant_generation: object = None


class Authenticator:
    def __init__(self, resources: Resources, session: AsyncSession) -> None:
        self.resources = resources
        self.session = session
        self.bound: TenantSession  # the same session, once `_decode` has bound it to the tenant

    async def verify(self, token: str | None) -> AccessClaims:
        """A valid, unrevoked token's claims (401 otherwise), with the session bound to its
        tenant. Neither the user nor the tenant needs to be active: logout uses this."""
        claims = await self._decode(token)
        snapshot = await self._snapshot(claims, with_caches=False)
        await self._refuse_if_denied(claims, snapshot)
        return claims

    async def authenticate(self, token: str | None) -> Caller:
        """The caller behind a valid, unrevoked token: an active user of an active tenant."""
        claims = await self._decode(token)
        # Read-through by hand, not `get_or_load` (app/core/cache.py): that reads one entry per
        # round trip, and the principal, the tenant and the denylist come back together in one
        # (`_snapshot`); what PostgreSQL answered is then filled in one more, not one per entry.
        snapshot = await self._snapshot(claims, with_caches=True)
        await self._refuse_if_denied(claims, snapshot)
        fills: list[Fill] = []
        principal = snapshot.principal or await self._load_principal(claims, snapshot, fills)
        tenant = snapshot.tenant or await self._load_tenant(claims, snapshot, fills)
        await self.resources.cache.fill(fills)
        if not tenant.is_active:
            raise TenantNotFoundError("The token's tenant is inactive.")
        return Caller(claims, principal, tenant, self.bound)

    async def _decode(self, token: str | None) -> AccessClaims:
        if not token:
            raise MissingTokenError
        try:
            claims = self.resources.jwt.decode(token)
        except MalformedTokenError as error:
            raise InvalidTokenError from error
        # From here on, every transaction of this request acts for the token's tenant.
        self.bound = await act_for_tenant(self.session, claims.tenant_id)
        return claims

    async def _snapshot(self, claims: AccessClaims, *, with_caches: bool) -> _Snapshot:
        principal = principal_key(claims.tenant_id, claims.user_id)
        user = user_subject(claims.tenant_id, claims.user_id)

        async def ask() -> list[Any]:
            async with self.resources.redis.pipeline(transaction=False) as pipe:
                pipe.exists(*denylist_keys(claims))
                pipe.get(DENYLIST_SINCE)
                if with_caches:
                    pipe.mget(
                        entry_key(principal),
                        generation_key(user),
                        entry_key(tenant_id_key(claims.tenant_id)),
                        generation_key(DIRECTORY),
                    )
                return await pipe.execute()

        replies = await self.resources.redis_circuit.call("authentication", ask, fallback=skipped)
        if replies is None:
            return _Snapshot(denied=None)
        denied = int(replies[0]) > 0
        complete = await self._denylist_covers(claims, replies[1])
        if not with_caches:
            return _Snapshot(denied=denied, complete=complete)
        entry, generation, tenant_entry, tenant_generation = replies[2]
        return _Snapshot(
            denied=denied,
            complete=complete,
            principal=read_fresh(entry, generation, Principal),
            principal_generation=generation,
            tenant=read_fresh(tenant_entry, tenant_generation, TenantRead),
            tenant_generation=tenant_generation,
        )

    async def _denylist_covers(self, claims: AccessClaims, since: str | None) -> bool:
        """Whether the denylist has held every denial since before this token was issued. A
        missing mark means Redis lost its data (or never had any): it is set now (one more round
        trip, once per Redis lifetime), and tokens issued before it are checked in PostgreSQL."""
        if since is None:
            now = str(time.time())

            async def mark() -> object:
                return await self.resources.redis.set(DENYLIST_SINCE, now, nx=True)

            await self.resources.redis_circuit.call("denylist mark", mark, fallback=skipped)
            return False
        return claims.issued_at.timestamp() >= float(since)

    async def _refuse_if_denied(self, claims: AccessClaims, snapshot: _Snapshot) -> None:
        denied = snapshot.denied
        if denied is None or (not denied and not snapshot.complete):
            # Redis could not answer, or may have forgotten a denial (it restarted empty after
            # this token was issued): PostgreSQL knows whether the token's session was revoked.
            tokens = RefreshTokenRepository(self.bound, claims.tenant_id)
            denied = await tokens.family_revoked(claims.family_id)
        if denied:
            raise InvalidTokenError

    async def _load_principal(
        self, claims: AccessClaims, snapshot: _Snapshot, fills: list[Fill]
    ) -> Principal:
        user = await UserRepository(self.bound, claims.tenant_id).get(claims.user_id)
        if user is None or not user.is_active:
            raise InvalidTokenError("The token's user no longer exists or is inactive.")
        principal = Principal.model_validate(user)
        if snapshot.denied is not None:  # Redis answered: remember, at the generation it gave
            ttl = self.resources.settings.cache.principal_ttl_seconds
            key = principal_key(claims.tenant_id, claims.user_id)
            fills.append(Fill(key, principal, snapshot.principal_generation, ttl))
        return principal

    async def _load_tenant(
        self, claims: AccessClaims, snapshot: _Snapshot, fills: list[Fill]
    ) -> TenantRead:
        row = await TenantRepository(self.session).get(claims.tenant_id)
        if row is None:
            raise InvalidTokenError("The token's tenant no longer exists.")
        tenant = TenantRead.model_validate(row)
        if snapshot.denied is not None:
            ttl = self.resources.settings.cache.tenant_ttl_seconds
            key = tenant_id_key(claims.tenant_id)
            fills.append(Fill(key, tenant, snapshot.tenant_generation, ttl))
        return tenant
