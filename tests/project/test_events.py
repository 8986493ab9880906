"""The project and task services record their events in the write's own transaction: a failed
commit leaves no outbox row, a committed write exactly its event."""

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import SessionFactory
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.demo import PROJECTS
from tests.fixtures.outbox import recorded


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
