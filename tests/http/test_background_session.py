"""Background tasks and the database session (docs/dependency-injection.md, "Background tasks open
their own session"). A `BackgroundTasks` task runs after the function scope has closed, so by then
the request's `get_session` has committed and closed its session.

* The recommended task opens its own session from the resources' session factory, binds its
  tenant and commits: its write is stored.
* A task that borrows the request's session gets a closed one. Using it begins a *new*
  transaction (SQLAlchemy's autobegin), which `bind_tenant` binds again because it remembers the
  binding per transaction; but nothing commits that transaction. After the request has ended it
  is still open, holding its connection, and closing the session throws the task's write away,
  while the request's own write, committed before the response, stays. Only a task that commits
  the borrowed session itself stores anything.

The routes live on a small app that shares the real app's settings and lifespan resources and
uses the real dependencies (`MemberDep`, `RequestContextDep`, `ResourcesDep`).
In the harness every session works on a savepoint of the test's connection, so "committed" here
means "kept when that session closes", which is what a commit guarantees in production.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.dependencies import MemberDep, RequestContextDep
from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.http.deps import ResourcesDep
from app.identity.models import Role, User
from tests.fixtures.auth import Org

BY_THE_REQUEST = "written by the request"
BY_THE_TASK = "written by the background task"


def a_user(tenant_id: uuid.UUID, name: str) -> User:
    """A row of a tenant-owned table (row-level security applies), named `name`."""
    email = f"{uuid.uuid4().hex[:12]}@background.example.com"
    return User(
        tenant_id=tenant_id, email=email, password_hash="x", full_name=name, role=Role.VIEWER
    )


async def add_user_in_own_session(factory: SessionFactory, tenant_id: uuid.UUID, name: str) -> None:
    """The guide's recommendation: its own session and transaction, bound to its tenant."""
    async with factory() as session, session.begin():
        await bind_tenant(session, tenant_id)
        session.add(a_user(tenant_id, name))


async def add_user_on_borrowed_session(
    session: AsyncSession, tenant_id: uuid.UUID, name: str, seen: dict[str, Any], *, commit: bool
) -> None:
    """The anti-pattern: the request's session, used after the request's commit and close."""
    seen["task session"] = session
    seen["in a transaction when the task starts"] = session.in_transaction()
    await bind_tenant(session, tenant_id)
    seen["task transaction"] = session.sync_session.get_transaction()
    seen["binding"] = session.info["tenant_binding"]
    session.add(a_user(tenant_id, name))
    await session.flush()
    if commit:
        await session.commit()


def build_app(real_app: FastAPI, factory: SessionFactory, seen: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    app.state.settings = real_app.state.settings
    app.state.resources = dataclasses.replace(real_app.state.resources, session_factory=factory)

    @app.post("/own-session", status_code=202)
    async def own_session(
        _: MemberDep,
        context: RequestContextDep,
        resources: ResourcesDep,
        background: BackgroundTasks,
    ) -> None:
        background.add_task(
            add_user_in_own_session, resources.session_factory, context.tenant_id, BY_THE_TASK
        )

    @app.post("/borrowed-session", status_code=202)
    async def borrowed_session(
        _: MemberDep,
        context: RequestContextDep,
        background: BackgroundTasks,
        commit: bool = False,
    ) -> None:
        session, tenant_id = context.session, context.tenant_id
        session.add(a_user(tenant_id, BY_THE_REQUEST))
        await session.flush()
        seen["request session"] = session
        seen["request transaction"] = session.sync_session.get_transaction()
        background.add_task(
            add_user_on_borrowed_session, session, tenant_id, BY_THE_TASK, seen, commit=commit
        )

    return app


@pytest.fixture
def seen() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    app: FastAPI, session_factory: SessionFactory, seen: dict[str, Any]
) -> AsyncIterator[AsyncClient]:
    """A client of the small app (this module's own `client`; `app` is the real one)."""
    transport = ASGITransport(app=build_app(app, session_factory, seen))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def names_written(factory: SessionFactory, org: Org) -> set[str]:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        names = await session.scalars(
            select(User.full_name).where(User.full_name.in_([BY_THE_REQUEST, BY_THE_TASK]))
        )
        return set(names)


async def test_a_task_with_its_own_session_commits_its_write(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    response = await client.post("/own-session", headers=acme.member.headers)

    assert response.status_code == 202
    assert await names_written(session_factory, acme) == {BY_THE_TASK}


async def test_a_borrowed_session_is_closed_rebound_and_never_committed(
    client: AsyncClient, acme: Org, session_factory: SessionFactory, seen: dict[str, Any]
) -> None:
    response = await client.post("/borrowed-session", headers=acme.member.headers)

    assert response.status_code == 202
    borrowed: AsyncSession = seen["task session"]
    assert borrowed is seen["request session"]
    # get_session had committed and closed it before the response, so before the task ran.
    assert seen["in a transaction when the task starts"] is False
    # Using it began a new transaction, and bind_tenant bound that one again.
    assert seen["task transaction"] is not seen["request transaction"]
    assert seen["binding"] == (seen["task transaction"], acme.tenant.id)
    # The request is over, request-scope cleanup included: the task's transaction is still open.
    assert borrowed.in_transaction()
    assert borrowed.sync_session.get_transaction() is seen["task transaction"]

    await borrowed.close()  # what eventually happens to it: a rollback

    assert await names_written(session_factory, acme) == {BY_THE_REQUEST}


async def test_a_borrowed_session_stores_only_what_the_task_commits_itself(
    client: AsyncClient, acme: Org, session_factory: SessionFactory, seen: dict[str, Any]
) -> None:
    response = await client.post("/borrowed-session?commit=true", headers=acme.member.headers)

    assert response.status_code == 202
    borrowed: AsyncSession = seen["task session"]
    assert not borrowed.in_transaction()

    await borrowed.close()

    assert await names_written(session_factory, acme) == {BY_THE_REQUEST, BY_THE_TASK}


async def test_a_reused_session_is_unbound_until_bind_tenant_binds_again(
    engine: AsyncEngine,
) -> None:
    """Outside the harness (a real pooled connection, real COMMIT): the tenant binding is a
    `SET LOCAL`, gone with its transaction, so a session used again after its commit and close
    starts unbound, and `bind_tenant` binds the new transaction."""
    bound_tenant = select(func.nullif(func.current_setting("app.tenant_id", True), ""))
    tenant_id = uuid.uuid4()
    factory = async_sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        await bind_tenant(session, tenant_id)
        assert await session.scalar(bound_tenant) == str(tenant_id)
        await session.commit()  # what get_session does ...
        await session.close()  # ... before the response

        assert await session.scalar(bound_tenant) is None  # a new transaction, unbound
        await bind_tenant(session, tenant_id)
        assert await session.scalar(bound_tenant) == str(tenant_id)
        assert session.info["tenant_binding"] == (session.sync_session.get_transaction(), tenant_id)
    finally:
        await session.close()
