"""The Redis half of idempotency keys: a fast path in front of PostgreSQL, never the judge.

Whether a key has already run its write is decided by the claim row in PostgreSQL, written in
the write's own transaction (`app/idempotency/`). Redis only saves work: while the first request
runs it holds a short `pending` marker, so a duplicate is answered 409 at once instead of waiting
on PostgreSQL's unique index; afterwards it holds the stored response, replayed without a query.
Redis never says "run": a missing, expired or unreachable record sends the request to
PostgreSQL. Every Redis failure here is skipped (through the circuit), never an error.
"""

import base64
import enum
import json
from dataclasses import dataclass

from redis.asyncio import Redis

from app.core.redis import RedisCircuit, skipped

# How long a key's first request counts as still running: the Redis marker's lifetime, and the
# age below which a claim row without a response answers "in flight" rather than "not recorded".
PENDING_LEASE_SECONDS = 60
REPLAYED_HEADERS = frozenset({"content-type", "location", "etag"})


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def replayable(self) -> "StoredResponse":
        """Only the headers a replay should repeat (not the request id, rate limits...)."""
        kept = [(k, v) for k, v in self.headers if k.lower() in REPLAYED_HEADERS]
        return StoredResponse(self.status, kept, self.body)


@dataclass(frozen=True, slots=True)
class CachedRecord:
    """What Redis knows about a key another request holds: its request's fingerprint and, once
    the write committed and its response was stored, that response (None while pending)."""

    fingerprint: str
    response: StoredResponse | None


class Reservation(enum.Enum):
    RESERVED = "reserved"  # this request set the pending marker
    UNKNOWN = "unknown"  # Redis did not answer: PostgreSQL alone decides


class IdempotencyCache:
    def __init__(self, redis: Redis, circuit: RedisCircuit, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.circuit = circuit
        self.ttl = ttl_seconds

    async def reserve(self, key: str, fingerprint: str) -> Reservation | CachedRecord:
        """Set the pending marker for `key`, or return the record another request left."""
        pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
        reserved = await self.circuit.call(
            "idempotency reserve",
            lambda: self.redis.set(key, pending, nx=True, ex=PENDING_LEASE_SECONDS),
            fallback=_unknown,
        )
        if reserved is Reservation.UNKNOWN:
            return Reservation.UNKNOWN
        if reserved:
            return Reservation.RESERVED
        raw = await self.circuit.call(
            "idempotency read", lambda: self.redis.get(key), fallback=skipped
        )
        if raw is None:  # expired between the two calls, or Redis failed
            return Reservation.UNKNOWN
        return _decode(raw)

    async def remember(self, key: str, fingerprint: str, response: StoredResponse) -> None:
        """Keep the response of a committed write for the TTL (skipped if Redis fails:
        PostgreSQL holds it too)."""
        record = {
            "state": "done",
            "fingerprint": fingerprint,
            "status": response.status,
            "headers": response.headers,
            "body": base64.b64encode(response.body).decode(),
        }
        payload = json.dumps(record)
        await self.circuit.call(
            "idempotency store",
            lambda: self.redis.set(key, payload, ex=self.ttl),
            fallback=skipped,
        )

    async def forget(self, key: str) -> None:
        """Drop this request's pending marker (its write did not commit, or PostgreSQL already
        knew the key), so the next duplicate asks PostgreSQL instead of waiting out the lease."""
        await self.circuit.call(
            "idempotency release", lambda: self.redis.delete(key), fallback=skipped
        )


def _unknown(_: Exception) -> Reservation:
    return Reservation.UNKNOWN


def _decode(raw: str | bytes) -> CachedRecord:
    record = json.loads(raw)
    if record["state"] == "pending":
        return CachedRecord(record["fingerprint"], None)
    response = StoredResponse(
        status=record["status"],
        headers=[(name, value) for name, value in record["headers"]],
        body=base64.b64decode(record["body"]),
    )
    return CachedRecord(record["fingerprint"], response)
