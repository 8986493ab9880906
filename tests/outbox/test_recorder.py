"""Recording an event is part of the write: the service's event is a row of the write's own
transaction (the request's, or any `transaction` the app's `get_session` opens), so a transaction
that rolls back, or whose commit fails, leaves no outbox row."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.context import acting_as
from app.auth.dependencies import get_request_context
from app.core.db import SessionFactory
from app.core.events import DomainEvent
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.http.deps import get_resources, get_session
from app.http.outside_request import resolved
from app.identity.schemas import Principal, TenantRead
from app.outbox.models import OutboxEvent
from app.outbox.repository import OutboxRepository
from app.project.dependencies import get_project_service
from app.project.schemas import ProjectCreate
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.demo import PROJECTS
from tests.fixtures.outbox import recorded


class RequestFailedError(Exception):
    """Whatever makes a request fail after its write."""


async def create_then_fail(resources: Resources, acme: Org) -> None:
    """A project created through the route's own provider, in a transaction of the app's
    `get_session`, which then fails."""
    async with resolved(get_session, given={get_resources: resources}) as session:
        context = await acting_as(
            Principal.model_validate(acme.member.user),
            TenantRead.model_validate(acme.tenant),
            session,
            resources,
        )
        async with resolved(get_project_service, given={get_request_context: context}) as service:
            await service.create(ProjectCreate(name="Rolled back"))
        await session.flush()
        # The event is there, in the transaction, beside its project...
        assert list(await session.scalars(select(OutboxEvent.type))) == ["project.created"]
        raise RequestFailedError


async def test_a_rolled_back_transaction_leaves_no_outbox_row(
    app: FastAPI, session_factory: SessionFactory, acme: Org
) -> None:
    with pytest.raises(RequestFailedError):
        await create_then_fail(app.state.resources, acme)

    # ...and went with it.
    assert await recorded(session_factory, acme.tenant.id) == []


async def test_a_failed_commit_leaves_no_outbox_row(
    app: FastAPI, client: AsyncClient, acme: Org, connection: AsyncConnection
) -> None:
    use_resources(app, session_factory=savepoint_factory(connection, FailingCommitSession))

    response = await client.post(PROJECTS, json={"name": "Doomed"}, headers=acme.member.headers)

    assert response.status_code == 500
    assert await recorded(savepoint_factory(connection), acme.tenant.id) == []


async def test_a_committed_write_leaves_exactly_its_event(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    response = await client.post(
        f"{PROJECTS}/{acme.project.id}/tasks", json={"title": "One"}, headers=acme.member.headers
    )

    assert response.status_code == 201, response.text
    [row] = await recorded(session_factory, acme.tenant.id)
    assert (row.type, row.data["task_id"], row.data["status"]) == (
        "task.created",
        response.json()["id"],
        "todo",
    )
    assert (row.attempts, row.sent_at, row.retry_at) == (0, None, None)


async def test_an_event_of_another_tenant_is_refused(
    session_factory: SessionFactory, acme: Org, globex: Org
) -> None:
    async with session_factory() as session:
        outbox = OutboxRepository(await bind_tenant(session, acme.tenant.id), acme.tenant.id)
        with pytest.raises(ValueError, match="recorded for"):
            await outbox.record(DomainEvent(type="x", tenant_id=globex.tenant.id, data={}))
