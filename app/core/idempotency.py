"""Idempotency records in Redis: the first response to a key is kept and replayed.

A key moves from `pending` (a short lease while the first request runs) to `done` (the stored
response, kept for the configured TTL). When Redis cannot answer, the store refuses (503)
rather than risk running a write twice.
"""

import base64
import enum
import json
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.errors import ConflictError, InvalidInputError, ServiceUnavailableError
from app.core.redis import RedisCircuit

PENDING_LEASE_SECONDS = 60
REPLAYED_HEADERS = frozenset({"content-type", "location", "etag"})


class IdempotencyKeyReusedError(InvalidInputError):
    code = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class IdempotencyInFlightError(ConflictError):
    code = "idempotency-in-flight"
    title = "A request with this idempotency key is still running"


class IdempotencyUnavailableError(ServiceUnavailableError):
    code = "idempotency-unavailable"
    title = "Idempotency keys are unavailable"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Outcome(enum.Enum):
    CLAIMED = "claimed"


class IdempotencyStore:
    def __init__(self, redis: Redis, circuit: RedisCircuit, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.circuit = circuit
        self.ttl = ttl_seconds

    async def begin(self, key: str, fingerprint: str) -> Outcome | StoredResponse:
        """Claim `key` for this request, or return the response stored for it. A different
        request under the same key is a 422; the same one still running is a 409."""
        pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
        if not self.circuit.available:
            raise self._unavailable()
        try:
            if await self.redis.set(key, pending, nx=True, ex=PENDING_LEASE_SECONDS):
                return Outcome.CLAIMED
            raw = await self.redis.get(key)
        except (RedisError, OSError) as error:
            self.circuit.failed("idempotency", error)
            raise self._unavailable() from error
        if raw is None:  # expired between the two calls: treat as still running, retry later
            raise IdempotencyInFlightError("Retry this request in a moment.")
        record = json.loads(raw)
        if record["fingerprint"] != fingerprint:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was used for a different request body or route."
            )
        if record["state"] == "pending":
            raise IdempotencyInFlightError("The first request with this key has not finished.")
        return StoredResponse(
            status=record["status"],
            headers=[(name, value) for name, value in record["headers"]],
            body=base64.b64decode(record["body"]),
        )

    async def complete(self, key: str, fingerprint: str, response: StoredResponse) -> None:
        record = {
            "state": "done",
            "fingerprint": fingerprint,
            "status": response.status,
            "headers": [h for h in response.headers if h[0].lower() in REPLAYED_HEADERS],
            "body": base64.b64encode(response.body).decode(),
        }
        await self.redis.set(key, json.dumps(record), ex=self.ttl)

    async def release(self, key: str) -> None:
        """Forget a claim whose request failed (5xx), so the client may retry it."""
        await self.redis.delete(key)

    @staticmethod
    def _unavailable() -> IdempotencyUnavailableError:
        return IdempotencyUnavailableError(
            "Requests with an Idempotency-Key cannot be accepted right now; retry later."
        )
