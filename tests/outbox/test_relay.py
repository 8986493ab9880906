"""The relay, one batch at a time, through the worker's own graph (`get_outbox_relay`, resolved
on the test's resources): each tenant's events reach its stream in order and are marked sent; a
failed publish sends nothing of that tenant and holds its events back until their retry time; a
Redis outage loses nothing. Several workers at once, and crashes: tests/worker/test_processes.py.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text, update

from app.core.config import EventSettings
from app.core.db import SessionFactory
from app.core.events import DomainEvent, EventPublisher, PublishError
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.http.deps import get_settings
from app.outbox.dependencies import get_event_publisher
from app.outbox.models import OutboxEvent
from app.outbox.service import Backoff
from tests.fixtures.app import provide
from tests.fixtures.auth import Org
from tests.fixtures.outbox import record_events, recorded, relay_once, stream_entries

# As the worker connects: only its login role may run the relay's functions.
pytestmark = [pytest.mark.worker_role, pytest.mark.usefixtures("empty_outbox")]


@pytest.fixture
def resources(app: FastAPI) -> Resources:
    current: Resources = app.state.resources
    return current


async def stream(redis: Redis, tenant_id: uuid.UUID) -> list[str]:
    """The event ids on the tenant's stream, in stream order."""
    return [fields["id"] for fields in await stream_entries(redis, tenant_id)]


def ids(events: Sequence[DomainEvent]) -> list[str]:
    return [str(event.id) for event in events]


async def make_due(factory: SessionFactory, tenant_id: uuid.UUID) -> None:
    """Time passes: the tenant's held-back events are due for their retry."""
    async with factory() as session:
        await bind_tenant(session, tenant_id)
        await session.execute(
            update(OutboxEvent).values(retry_at=text("now() - interval '1 second'"))
        )
        await session.commit()


class FailingFor:
    """The real publisher, except for the tenants named: those fail as an outage would."""

    def __init__(self, real: EventPublisher, tenants: set[uuid.UUID]) -> None:
        self.real = real
        self.tenants = tenants

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        if any(event.tenant_id in self.tenants for event in events):
            raise PublishError("ConnectionError: connection refused")
        await self.real.publish(events)


async def test_each_tenants_events_reach_its_stream_in_order_and_are_marked_sent(
    resources: Resources, session_factory: SessionFactory, redis: Redis, acme: Org, globex: Org
) -> None:
    acme_events = await record_events(session_factory, acme.tenant.id, 5)
    globex_events = await record_events(session_factory, globex.tenant.id, 3)

    report = await relay_once(resources)

    assert (report.claimed, report.sent, report.retried, report.failed) == (8, 8, 0, 0)
    assert await stream(redis, acme.tenant.id) == ids(acme_events)
    assert await stream(redis, globex.tenant.id) == ids(globex_events)
    first, *_ = await stream_entries(redis, acme.tenant.id)
    assert first == acme_events[0].fields()
    for org in (acme, globex):
        assert all(
            row.sent_at is not None for row in await recorded(session_factory, org.tenant.id)
        )
    # Sent is sent: the next batch finds nothing.
    assert (await relay_once(resources)).claimed == 0


async def test_a_batch_holds_at_most_its_size_the_longest_waiting_tenant_first(
    resources: Resources, session_factory: SessionFactory, redis: Redis, acme: Org, globex: Org
) -> None:
    globex_events = await record_events(session_factory, globex.tenant.id, 2)
    acme_events = await record_events(session_factory, acme.tenant.id, 4)
    small = resources.settings.model_copy(update={"events": EventSettings(relay_batch_size=3)})
    overrides = {get_settings: provide(small)}

    first = await relay_once(resources, overrides)

    assert (first.claimed, first.sent) == (3, 3)
    assert await stream(redis, globex.tenant.id) == ids(globex_events)
    assert await stream(redis, acme.tenant.id) == ids(acme_events[:1])
    second = await relay_once(resources, overrides)
    assert (second.claimed, second.sent) == (3, 3)
    assert await stream(redis, acme.tenant.id) == ids(acme_events)


async def test_a_failed_publish_sends_nothing_of_that_tenant_and_holds_it_back(
    resources: Resources, session_factory: SessionFactory, redis: Redis, acme: Org, globex: Org
) -> None:
    acme_events = await record_events(session_factory, acme.tenant.id, 2)
    globex_events = await record_events(session_factory, globex.tenant.id, 2)
    failing = FailingFor(resources.publisher, {acme.tenant.id})

    report = await relay_once(resources, {get_event_publisher: provide(failing)})

    assert (report.claimed, report.sent, report.failed) == (4, 2, 1)
    assert await stream(redis, globex.tenant.id) == ids(globex_events)
    assert await stream(redis, acme.tenant.id) == []
    head, second = await recorded(session_factory, acme.tenant.id)
    assert (head.sent_at, second.sent_at) == (None, None)
    assert (head.attempts, second.attempts) == (1, 0)
    assert head.retry_at is not None
    assert head.retry_at > datetime.now(UTC)
    assert head.last_error == "ConnectionError: connection refused"

    # Until its retry time, the tenant is left alone: nothing of it overtakes its first event.
    assert (await relay_once(resources)).claimed == 0

    await make_due(session_factory, acme.tenant.id)
    retried = await relay_once(resources)
    assert (retried.claimed, retried.sent, retried.retried) == (2, 2, 1)
    assert await stream(redis, acme.tenant.id) == ids(acme_events)


async def test_while_redis_is_down_events_wait_and_nothing_is_lost(
    resources: Resources,
    redis_down: Resources,
    session_factory: SessionFactory,
    redis: Redis,
    acme: Org,
) -> None:
    events = await record_events(session_factory, acme.tenant.id, 3)

    down = await relay_once(redis_down)

    assert (down.claimed, down.sent, down.failed) == (3, 0, 1)
    rows = await recorded(session_factory, acme.tenant.id)
    assert [row.sent_at for row in rows] == [None, None, None]
    assert "ConnectionError" in (rows[0].last_error or "")

    await make_due(session_factory, acme.tenant.id)
    back = await relay_once(resources)  # Redis answers again
    assert (back.sent, back.retried) == (3, 1)
    assert await stream(redis, acme.tenant.id) == ids(events)


def test_the_retry_wait_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base_seconds=1.0, max_seconds=10.0)
    assert [backoff.delay(attempt) for attempt in range(1, 7)] == [1, 2, 4, 8, 10, 10]
