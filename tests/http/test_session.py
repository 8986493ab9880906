"""Proofs for `get_session` (app/http/deps.py): the request's transaction commits before the
response is sent, rolls back on any exception, and the session is always closed."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from app.http.deps import ResourcesDep, SessionDep
from app.identity.models import Tenant
from app.identity.repository import TenantRepository
from app.tenant.dependencies import get_tenant_service
from app.tenant.service import TenantService
from tests.fixtures.app import use_resources
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.factories import signup_body
from tests.fixtures.paths import TENANTS


class RecordingSyncSession(Session):
    """The session `AsyncSession` wraps: its `close` runs whichever way the async one closes
    (a session that never began is closed without a trip through the event loop)."""

    instances: list["RecordingSyncSession"] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed = False
        RecordingSyncSession.instances.append(self)

    def close(self) -> None:
        self.closed = True
        super().close()


class RecordingSession(AsyncSession):
    sync_session_class = RecordingSyncSession


async def tenant_exists(session: AsyncSession, slug: str) -> bool:
    return await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None


class TestCommitBeforeResponse:
    async def test_failed_commit_is_a_5xx_and_nothing_is_stored(
        self, app: FastAPI, client: AsyncClient, connection: AsyncConnection, session: AsyncSession
    ) -> None:
        factory = savepoint_factory(connection, FailingCommitSession)
        use_resources(app, session_factory=factory)

        response = await client.post(TENANTS, json=signup_body(slug="never-stored"))

        # With the default dependency scope the commit would run after a 201 had been sent.
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "server closed" not in response.text
        assert not await tenant_exists(session, "never-stored")

    async def test_successful_request_is_committed_when_the_response_arrives(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        response = await client.post(TENANTS, json=signup_body(slug="stored"))

        assert response.status_code == 201
        assert await tenant_exists(session, "stored")


class TestRollbackOnError:
    @pytest.mark.overrides("a tenant service whose second write raises")
    async def test_exception_after_a_flushed_write_rolls_it_back(
        self, app: FastAPI, client: AsyncClient, session: AsyncSession
    ) -> None:
        class ExplodingUsers:
            async def add(self, user: Any) -> Any:
                raise RuntimeError("the second write failed")

        class Scopes:
            async def enter(self, tenant_id: Any) -> Any:
                return type("Scope", (), {"users": ExplodingUsers()})()

        async def service_with_exploding_users(
            session: SessionDep, resources: ResourcesDep
        ) -> TenantService:
            return TenantService(
                TenantRepository(session),
                Scopes(),  # type: ignore[arg-type]  # TenantWall's enter, with users that raise
                resources.password_hasher,
                password_min_length=12,
            )

        # The tenant row is flushed first; then the owner's insert raises inside the request.
        app.dependency_overrides[get_tenant_service] = service_with_exploding_users

        response = await client.post(TENANTS, json=signup_body(slug="half-written"))

        assert response.status_code == 500
        assert not await tenant_exists(session, "half-written")

    async def test_domain_error_rolls_back_too(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await client.post(TENANTS, json=signup_body(slug="taken"))

        response = await client.post(TENANTS, json=signup_body(slug="taken", password="x" * 12))

        assert response.status_code == 409
        rows = (await session.scalars(select(Tenant).where(Tenant.slug == "taken"))).all()
        assert len(rows) == 1


class TestSessionIsClosed:
    async def test_closed_after_success_and_after_failure(
        self, app: FastAPI, client: AsyncClient, connection: AsyncConnection
    ) -> None:
        RecordingSyncSession.instances.clear()
        use_resources(app, session_factory=savepoint_factory(connection, RecordingSession))

        ok = await client.post(TENANTS, json=signup_body(slug="closed-ok"))
        conflict = await client.post(TENANTS, json=signup_body(slug="closed-ok"))
        invalid = await client.post(TENANTS, json=signup_body(slug="x"))

        assert (ok.status_code, conflict.status_code, invalid.status_code) == (201, 409, 422)
        # The 422 is decided before the endpoint runs, but the session was already opened.
        assert len(RecordingSyncSession.instances) == 3
        assert all(session.closed for session in RecordingSyncSession.instances)
