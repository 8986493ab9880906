"""Idempotency keys: a write runs at most once per key, and its response is replayed.

PostgreSQL is the truth. The key's row is inserted in the request's own transaction (`begin`),
so it commits exactly when the write commits and vanishes when the write rolls back. A later
request with the key finds the row and never runs the write again: it replays the stored
response, or, if none was recorded (the process or both stores failed right after the commit),
answers 409 `idempotency-response-not-recorded`. Redis is a fast path in front of it
(`app/idempotency/cache.py`): it answers duplicates of a running request at once and replays
without a query, and when it is down everything above still holds, from PostgreSQL alone.
"""

import hashlib
import logging
from dataclasses import dataclass

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.idempotency.cache import (
    PENDING_LEASE_SECONDS,
    CachedRecord,
    IdempotencyCache,
    Reservation,
    StoredResponse,
)
from app.idempotency.exceptions import (
    IdempotencyInFlightError,
    IdempotencyKeyReusedError,
    IdempotencyResponseNotRecordedError,
)
from app.idempotency.repository import IdempotencyKeyRepository, KeyRecord

logger = logging.getLogger("app.idempotency")


@dataclass(slots=True)
class Claim:
    """This request holds the key. `committed` turns True once its transaction commits."""

    redis_key: str
    key_hash: str
    fingerprint: str
    committed: bool = False

    async def mark_committed(self) -> None:
        self.committed = True


def key_hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


class IdempotencyStore:
    def __init__(
        self,
        keys: IdempotencyKeyRepository,
        cache: IdempotencyCache,
        session_factory: SessionFactory,
        *,
        ttl_seconds: int,
    ) -> None:
        self.keys = keys
        self.cache = cache
        self.session_factory = session_factory
        self.ttl = ttl_seconds

    async def begin(self, *, scope: str, key: str, fingerprint: str) -> Claim | StoredResponse:
        """Claim `key` within `scope` (user, method, route) for this request's transaction, or
        return the response to replay. Another request under the key is 422; the same request
        still running is 409; one that committed without a recorded response is 409 too."""
        hashed = key_hash(scope, key)
        redis_key = f"idempotency:{self.keys.tenant_id}:{hashed}"
        reservation = await self.cache.reserve(redis_key, fingerprint)
        if isinstance(reservation, CachedRecord):
            return await self._known_to_redis(reservation, hashed, fingerprint)
        try:
            claimed = await self.keys.claim(hashed, fingerprint, ttl_seconds=self.ttl)
            found = None if claimed else await self._find(hashed)
        except BaseException:
            if reservation is Reservation.RESERVED:
                await self.cache.forget(redis_key)
            raise
        if claimed:
            claim = Claim(redis_key, hashed, fingerprint)
            self.keys.after_commit(claim.mark_committed)
            return claim
        if reservation is Reservation.RESERVED:
            await self.cache.forget(redis_key)  # PostgreSQL knew the key: let it answer
        if found is None:  # taken, then purged before we could read it: ask again shortly
            raise IdempotencyInFlightError("Retry this request in a moment.")
        return _verdict(found, fingerprint)

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        """After the response: store it if the write committed (PostgreSQL, then Redis), else
        drop the Redis marker (no row was committed, so the client may retry)."""
        if not claim.committed or response.status >= 500:
            # Not committed: nothing ran. Committed with a 5xx (the commit succeeded, then
            # something failed): the row stays without a response, and retries get 409.
            await self.cache.forget(claim.redis_key)
            return
        stored = response.replayable()
        try:
            await self._record(claim.key_hash, stored)
        except Exception:
            logger.exception("could not store an idempotent response in PostgreSQL")
        await self.cache.remember(claim.redis_key, claim.fingerprint, stored)

    async def _known_to_redis(
        self, cached: CachedRecord, hashed: str, fingerprint: str
    ) -> StoredResponse:
        if cached.fingerprint != fingerprint:
            raise _reused()
        if cached.response is not None:
            return cached.response
        # Pending in Redis: still running, or its response reached PostgreSQL but not Redis.
        found = await self._find(hashed)
        if found is not None and found.response is not None:
            return _verdict(found, fingerprint)
        raise IdempotencyInFlightError("The first request with this key has not finished.")

    async def _find(self, hashed: str) -> KeyRecord | None:
        return await self.keys.find(hashed, lease_seconds=PENDING_LEASE_SECONDS)

    async def _record(self, hashed: str, response: StoredResponse) -> None:
        """The response, in a short transaction of its own: the request's has committed."""
        tenant_id = self.keys.tenant_id
        async with self.session_factory() as session:
            bound = await bind_tenant(session, tenant_id)
            await IdempotencyKeyRepository(bound, tenant_id).record_response(hashed, response)
            await session.commit()


def _reused() -> IdempotencyKeyReusedError:
    return IdempotencyKeyReusedError(
        "This Idempotency-Key was used for a different request body or route."
    )


def _verdict(found: KeyRecord, fingerprint: str) -> StoredResponse:
    if found.fingerprint != fingerprint:
        raise _reused()
    if found.response is not None:
        return found.response
    if found.recent:
        raise IdempotencyInFlightError("The first request with this key has not finished.")
    raise IdempotencyResponseNotRecordedError(
        "The first request with this key completed its write, but its response was not "
        "recorded. It will not run again: read the resource to see the result."
    )
