"""The relay: committed outbox rows to the event streams, each tenant's in order.

One `relay_batch` is one transaction (the worker resolves `get_outbox_relay` per batch, on the
API's `get_session`): claim rows, publish them, mark them sent, commit. A worker that dies before
the commit leaves its rows unsent and unlocked, and they are published again: at-least-once,
and consumers drop a repeat by the event's id. A failed publish marks nothing of that tenant's
batch: its first event counts an attempt and waits `Backoff.delay` before the tenant's events
are tried again, so a later event never overtakes it. With tracing on, each event's relay is a
span in the trace of the request that recorded it (`relay_spans`).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from app.core.events import EventPublisher, PublishError
from app.core.tracing import active_tracer, parent_context
from app.outbox.repository import Backlog, ClaimedEvent, PendingEvents

logger = logging.getLogger("app.outbox")


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1, 2, ...): doubling, capped."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0)))


@dataclass(frozen=True, slots=True)
class RelayReport:
    claimed: int  # events this batch held
    sent: int  # published and marked sent
    retried: int  # of those sent, events that had failed before
    failed: int  # publishes that failed, one per tenant, each deferring that tenant's events
    full: bool  # the batch held as many events as it may: more may be waiting


def _by_tenant(claimed: list[ClaimedEvent]) -> list[list[ClaimedEvent]]:
    groups: dict[object, list[ClaimedEvent]] = {}
    for item in claimed:
        groups.setdefault(item.event.tenant_id, []).append(item)
    return list(groups.values())


@contextmanager
def relay_spans(events: list[ClaimedEvent]) -> Iterator[list[Span]]:
    """With tracing on, an `outbox.relay` span per event, each the child of the span that
    recorded it (its row's `traceparent`), so the relay joins the request's trace. One publish
    carries a tenant's events together: its Redis span goes under the first event's span."""
    tracer = active_tracer()
    if tracer is None:
        yield []
        return
    spans = [
        tracer.start_span(
            "outbox.relay",
            context=parent_context(item.traceparent),
            kind=SpanKind.PRODUCER,
            attributes=item.span_attributes(),
        )
        for item in events
    ]
    try:
        with trace.use_span(spans[0], end_on_exit=False):
            yield spans
    finally:
        for span in spans:
            span.end()


class OutboxRelay:
    def __init__(
        self,
        pending: PendingEvents,
        publisher: EventPublisher,
        *,
        batch_size: int,
        backoff: Backoff,
    ) -> None:
        self.pending = pending
        self.publisher = publisher
        self.batch_size = batch_size
        self.backoff = backoff

    async def relay_batch(self) -> RelayReport:
        """Publish one batch, in the caller's transaction (whose commit makes `sent` true)."""
        claimed = await self.pending.claim(self.batch_size)
        sent: list[ClaimedEvent] = []
        failed = 0
        for events in _by_tenant(claimed):
            with relay_spans(events) as spans:
                try:
                    await self.publisher.publish([item.event for item in events])
                except PublishError as error:
                    failed += 1
                    for span in spans:
                        span.set_status(StatusCode.ERROR, str(error))
                    await self._defer(events[0], error)
                    continue
            sent.extend(events)
        await self.pending.mark_sent([item.event.id for item in sent])
        retried = sum(1 for item in sent if item.attempts > 0)
        return RelayReport(
            claimed=len(claimed),
            sent=len(sent),
            retried=retried,
            failed=failed,
            full=len(claimed) >= self.batch_size,
        )

    async def backlog(self) -> Backlog:
        return await self.pending.backlog()

    async def _defer(self, first: ClaimedEvent, error: PublishError) -> None:
        attempt = first.attempts + 1
        delay = self.backoff.delay(attempt)
        await self.pending.defer(first.event.id, error=str(error), delay_seconds=delay)
        logger.warning(
            "publishing the events of tenant %s failed (attempt %d of event %s): %s; "
            "retrying in %.1f s",
            first.event.tenant_id,
            attempt,
            first.event.id,
            error,
            delay,
        )
