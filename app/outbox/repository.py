"""SQL for the outbox, from its two sides.

`OutboxRepository` is the recorder services are handed: inside the tenant wall, it adds the
event's row to the request's transaction. `PendingEvents` is the relay's side: it crosses the
wall, so it goes only through the SECURITY DEFINER functions of the outbox migration (the
application role cannot see past its tenant).
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ARRAY, Uuid, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import DomainEvent
from app.core.repository import TenantOwnedRepository
from app.core.tracing import active_tracer, current_traceparent
from app.outbox.models import OutboxEvent


class OutboxRepository(TenantOwnedRepository[OutboxEvent]):
    """The `EventRecorder` of the app: an event is a row of the change's own transaction, so a
    rollback or a failed commit takes it away with the change. With tracing on, recording is
    the `outbox.record` span, whose context the row keeps (`traceparent`)."""

    model = OutboxEvent

    async def record(self, event: DomainEvent) -> None:
        if event.tenant_id != self.tenant_id:
            raise ValueError(f"an event of tenant {event.tenant_id} recorded for {self.tenant_id}")
        tracer = active_tracer()
        if tracer is None:
            self._add(event, traceparent=None)
            return
        # The row keeps this span's context: the worker's relay span becomes its child.
        with tracer.start_as_current_span("outbox.record", attributes=_span_attributes(event)):
            self._add(event, traceparent=current_traceparent())

    def _add(self, event: DomainEvent, *, traceparent: str | None) -> None:
        # Added, not flushed: the commit writes it with the change (one INSERT for a batch).
        self.session.add(
            OutboxEvent(
                id=event.id,
                tenant_id=self.tenant_id,
                type=event.type,
                data=json.loads(event.json_data()),
                occurred_at=event.occurred_at,
                traceparent=traceparent,
            )
        )


def _span_attributes(event: DomainEvent) -> dict[str, str]:
    return {
        "event.id": str(event.id),
        "event.type": event.type,
        "tenant.id": str(event.tenant_id),
    }


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    event: DomainEvent
    attempts: int  # failed publishes so far
    traceparent: str | None = None  # the recording request's trace, when it was traced

    def span_attributes(self) -> dict[str, str | int]:
        return {**_span_attributes(self.event), "event.attempts": self.attempts}


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int  # rows not yet relayed
    oldest_seconds: float  # how long the oldest of them has waited (0 when none)


_CLAIM = text(
    "SELECT id, tenant_id, type, data, occurred_at, attempts, traceparent FROM outbox_claim(:limit)"
)
_MARK_SENT = select(func.outbox_mark_sent(bindparam("ids", type_=ARRAY(Uuid()))))


class PendingEvents:
    """Every tenant's unsent events, for the relay and housekeeping. Not a `Repository`: it
    writes no rows itself, it calls the functions that may cross tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, limit: int) -> list[ClaimedEvent]:
        """Up to `limit` unsent events, each tenant's in order, locked until this transaction
        ends; tenants another worker holds, or whose next event waits for a retry, are left."""
        rows = await self.session.execute(_CLAIM, {"limit": limit})
        return [
            ClaimedEvent(
                DomainEvent(
                    type=row.type,
                    tenant_id=row.tenant_id,
                    data=row.data,
                    id=row.id,
                    occurred_at=row.occurred_at,
                ),
                row.attempts,
                row.traceparent,
            )
            for row in rows
        ]

    async def mark_sent(self, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self.session.execute(_MARK_SENT, {"ids": list(ids)})

    async def defer(self, id_: uuid.UUID, *, error: str, delay_seconds: float) -> None:
        """Count a failed attempt and hold the event (and its tenant's later ones) back."""
        await self.session.execute(
            select(func.outbox_defer(id_, error, delay_seconds)),
        )

    async def backlog(self) -> Backlog:
        row = (await self.session.execute(text("SELECT * FROM outbox_backlog()"))).one()
        return Backlog(pending=int(row.pending), oldest_seconds=float(row.oldest_seconds))

    async def purge_sent(self, *, retention_seconds: int) -> int:
        """Delete the rows relayed more than `retention_seconds` ago; returns how many."""
        deleted = await self.session.scalar(select(func.purge_sent_outbox(retention_seconds)))
        return int(deleted or 0)
