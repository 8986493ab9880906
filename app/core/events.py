"""Domain events, published after the transaction commits (never for a rolled-back write).

Remaining gap: a crash between the commit and the publish loses the event. A transactional
outbox closes it: write the event to an `outbox` table in the same transaction as the change,
and let a relay publish and mark outbox rows (at-least-once; consumers dedupe by event id).
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from app.core.redis import RedisCircuit

logger = logging.getLogger("app.events")


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type: str
    tenant_id: uuid.UUID
    data: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def fields(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "type": self.type,
            "tenant_id": str(self.tenant_id),
            "occurred_at": self.occurred_at.isoformat(),
            "data": json.dumps(self.data, default=str, separators=(",", ":")),
        }


class EventPublisher(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class RedisStreamPublisher:
    """One stream per tenant (`events:<tenant_id>`), trimmed to about `max_length` entries.
    While Redis is down events are lost, and each loss is logged with the event's id."""

    def __init__(self, redis: Redis, circuit: RedisCircuit, *, max_length: int) -> None:
        self.redis = redis
        self.circuit = circuit
        self.max_length = max_length

    async def publish(self, event: DomainEvent) -> None:
        def lost(error: Exception) -> None:
            logger.warning("event %s (%s) lost: %s", event.id, event.type, error)

        await self.circuit.call(
            "events",
            lambda: self.redis.xadd(
                f"events:{event.tenant_id}",
                event.fields(),  # type: ignore[arg-type]  # dict is invariant; str is a FieldT
                maxlen=self.max_length,
                approximate=True,
            ),
            fallback=lost,
        )
