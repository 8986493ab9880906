"""Recording an event is part of the write: the recorder adds a row to the write's own
transaction (the request's, or any `transaction` the app's `get_session` opens), so a transaction
that rolls back leaves no outbox row. (A service's events through its routes, a failed commit
included: tests/user/test_events.py.)"""

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.core.db import SessionFactory
from app.core.events import DomainEvent
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.http.deps import get_resources, get_session
from app.http.outside_request import resolved
from app.outbox.models import OutboxEvent
from app.outbox.repository import OutboxRepository
from tests.fixtures.auth import Org
from tests.fixtures.outbox import recorded


class RequestFailedError(Exception):
    """Whatever makes a request fail after its write."""


async def record_then_fail(resources: Resources, acme: Org) -> None:
    """An event recorded in a transaction of the app's `get_session`, which then fails."""
    async with resolved(get_session, given={get_resources: resources}) as session:
        bound = await bind_tenant(session, acme.tenant.id)
        outbox = OutboxRepository(bound, acme.tenant.id)
        await outbox.record(DomainEvent(type="thing.created", tenant_id=acme.tenant.id, data={}))
        await session.flush()
        # The event is there, in the transaction...
        assert list(await session.scalars(select(OutboxEvent.type))) == ["thing.created"]
        raise RequestFailedError


async def test_a_rolled_back_transaction_leaves_no_outbox_row(
    app: FastAPI, session_factory: SessionFactory, acme: Org
) -> None:
    with pytest.raises(RequestFailedError):
        await record_then_fail(app.state.resources, acme)

    # ...and went with it.
    assert await recorded(session_factory, acme.tenant.id) == []


async def test_an_event_of_another_tenant_is_refused(
    session_factory: SessionFactory, acme: Org, globex: Org
) -> None:
    async with session_factory() as session:
        outbox = OutboxRepository(await bind_tenant(session, acme.tenant.id), acme.tenant.id)
        with pytest.raises(ValueError, match="recorded for"):
            await outbox.record(DomainEvent(type="x", tenant_id=globex.tenant.id, data={}))
