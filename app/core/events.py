"""Domain events: what services record, and how the worker publishes them.

A service records an event through an `EventRecorder` it was handed (in the app, the outbox
repository, app/outbox/repository.py: the event becomes a row of the request's own transaction,
so it exists exactly when the change does). The worker's relay (app/outbox/service.py) later
publishes the committed rows with an `EventPublisher`, here Redis Streams. Delivery is
at-least-once: a worker that dies after publishing and before marking its rows sent publishes
them again, so each event carries an `id` by which consumers drop a repeat.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from redis.asyncio import Redis

from app.core.redis import RedisCircuit


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type: str
    tenant_id: uuid.UUID
    data: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def json_data(self) -> str:
        return json.dumps(self.data, default=str, separators=(",", ":"))

    def fields(self) -> dict[str, str]:
        """The stream entry: every field a string, `data` as JSON."""
        return {
            "id": str(self.id),
            "type": self.type,
            "tenant_id": str(self.tenant_id),
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.json_data(),
        }


class EventRecorder(Protocol):
    """Where a service puts the events of its change. Recording is part of the change: an event
    recorded in a transaction that rolls back was never recorded."""

    async def record(self, event: DomainEvent) -> None: ...


class PublishError(Exception):
    """The events could not be published: none of them may be taken as sent (some may have
    reached the stream all the same, which is why consumers deduplicate by id)."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publish `events` in their order, or raise `PublishError`."""
        ...


class RedisStreamPublisher:
    """One stream per tenant (`events:<tenant_id>`), trimmed to about `max_length` entries. A
    batch goes in one pipelined round trip, its entries in order. Redis failures (and a skip
    while the circuit is open) raise `PublishError`: the relay retries, nothing is lost."""

    def __init__(self, redis: Redis, circuit: RedisCircuit, *, max_length: int) -> None:
        self.redis = redis
        self.circuit = circuit
        self.max_length = max_length

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return

        async def send() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.xadd(
                        f"events:{event.tenant_id}",
                        event.fields(),  # type: ignore[arg-type]  # dict is invariant; str is a FieldT
                        maxlen=self.max_length,
                        approximate=True,
                    )
                return await pipe.execute()

        def failed(error: Exception) -> NoReturn:
            raise PublishError(f"{type(error).__name__}: {error}") from error

        await self.circuit.call("events", send, fallback=failed)
