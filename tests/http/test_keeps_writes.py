"""Proofs for `KeepsWrites` (app/core/errors.py), the one named exception to "an error rolls the
request back": after an error so marked, `app.core.db.transaction` commits the request's writes
(and runs their after-commit callbacks) before the error reaches its handler, in both request
dependencies that own a transaction (`get_session`, `get_request_context`). A failed commit
answers with its own error, a 500, never with the marked error that would claim the write
was kept. The real use: a reused refresh token's revocation (tests/auth/test_router.py).

The routes live on a small app that shares the real app's lifespan resources and uses the real
dependencies, problem handlers and error middleware; its service writes a tenant, schedules an
after-commit callback, then raises a marked or an unmarked 409.
"""

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.dependencies import RequestContextDep
from app.core.db import SessionFactory, after_commit
from app.core.errors import ConflictError, KeepsWrites
from app.http.deps import SessionDep
from app.http.middleware import RequestContextMiddleware
from app.http.problems import install_problem_handlers
from app.identity.models import Tenant
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.problems import assert_problem

# One route per transaction-owning dependency.
THROUGH = ["/session", "/context"]


class KeptConflictError(ConflictError, KeepsWrites):
    code = "kept-conflict"


class WriteThenFail:
    """Shaped like a real service: it writes, schedules a side effect, then raises."""

    def __init__(self, session: AsyncSession, callbacks_run: list[str]) -> None:
        self.session = session
        self.callbacks_run = callbacks_run

    async def run(self, slug: str, *, marked: bool) -> None:
        self.session.add(Tenant(slug=slug, name=slug))
        await self.session.flush()

        async def record() -> None:
            self.callbacks_run.append(slug)

        after_commit(self.session, record)
        raise (KeptConflictError if marked else ConflictError)(f"{slug} failed")


def build_app(real_app: FastAPI, factory: SessionFactory, callbacks_run: list[str]) -> FastAPI:
    app = FastAPI()
    app.state.settings = real_app.state.settings
    app.state.resources = dataclasses.replace(real_app.state.resources, session_factory=factory)
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)  # renders the failed commit's 500

    @app.post("/session/{slug}")
    async def through_get_session(slug: str, marked: bool, session: SessionDep) -> None:
        await WriteThenFail(session, callbacks_run).run(slug, marked=marked)

    @app.post("/context/{slug}")
    async def through_the_request_context(
        slug: str, marked: bool, context: RequestContextDep
    ) -> None:
        await WriteThenFail(context.session, callbacks_run).run(slug, marked=marked)

    return app


@pytest.fixture
def callbacks_run() -> list[str]:
    return []


@contextlib.asynccontextmanager
async def client_for(
    real_app: FastAPI, factory: SessionFactory, callbacks_run: list[str]
) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=build_app(real_app, factory, callbacks_run))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(
    app: FastAPI, session_factory: SessionFactory, callbacks_run: list[str]
) -> AsyncIterator[AsyncClient]:
    """A client of the small app (this module's own `client`; `app` is the real one)."""
    async with client_for(app, session_factory, callbacks_run) as client:
        yield client


async def tenant_exists(session: AsyncSession, slug: str) -> bool:
    return await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None


@pytest.mark.parametrize("route", THROUGH)
async def test_a_marked_error_commits_the_writes_then_answers(
    route: str, client: AsyncClient, acme: Org, session: AsyncSession, callbacks_run: list[str]
) -> None:
    response = await client.post(f"{route}/kept?marked=true", headers=acme.member.headers)

    body = assert_problem(response, 409)
    assert body["type"].endswith("kept-conflict")
    assert await tenant_exists(session, "kept")
    assert callbacks_run == ["kept"]


@pytest.mark.parametrize("route", THROUGH)
async def test_an_unmarked_error_rolls_the_writes_back(
    route: str, client: AsyncClient, acme: Org, session: AsyncSession, callbacks_run: list[str]
) -> None:
    response = await client.post(f"{route}/dropped?marked=false", headers=acme.member.headers)

    body = assert_problem(response, 409)
    assert body["type"].endswith(":conflict")
    assert not await tenant_exists(session, "dropped")
    assert callbacks_run == []


@pytest.mark.parametrize("route", THROUGH)
async def test_a_failed_commit_of_a_marked_error_answers_the_commits_500(
    route: str,
    app: FastAPI,
    connection: AsyncConnection,
    acme: Org,
    session: AsyncSession,
    callbacks_run: list[str],
) -> None:
    failing = savepoint_factory(connection, FailingCommitSession)
    async with client_for(app, failing, callbacks_run) as client:
        response = await client.post(f"{route}/lost?marked=true", headers=acme.member.headers)

    # Not the 409 that would say the write was kept: the commit's own error, and nothing stored.
    body = assert_problem(response, 500)
    assert body["type"].endswith("internal-error")
    assert not await tenant_exists(session, "lost")
    assert callbacks_run == []
