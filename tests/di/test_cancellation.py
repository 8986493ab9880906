"""Cancellation and yield dependencies (FastAPI 0.165: `_solve_generator` in
fastapi/dependencies/utils.py, `_asynccontextmanager_with_shielded_exit` and
`contextmanager_in_threadpool` in fastapi/concurrency.py).

A request is cancelled when something above it cancels its task or its AnyIO cancel scope: a
timeout middleware, Starlette's disconnect listener (ASGI before 2.4), a server shutting down.

* A cancelled async yield dependency sees `CancelledError` at its `yield`. That is a
  `BaseException`, not an `Exception`: an `except Exception:` rollback branch is skipped, and
  only `finally` / `async with` cleanup runs.
* That cleanup is shielded: FastAPI sets a shield over the request's cleanup while an async
  generator's exit code runs, so the cancellation waits for it. A cleanup that hangs is not cut
  off by the cancellation; only a deadline of its own can end it.
* A sync generator's exit runs in a worker thread on a private limiter (a new one-token
  `CapacityLimiter` per call), not on the shared thread pool: it runs even while the pool is
  exhausted. Its setup does take a token of the shared pool.

For the app, `get_session` and `get_request_context` keep their unit of work in
`app.core.db.transaction`, which rolls back on `except Exception` and closes the session in
`async with factory()`: a cancelled request skips the rollback branch and the commit, and its
session's close ends the transaction (SQLAlchemy rolls back what is not committed when it
releases the connection). The last test proves it through the real app."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx
import pytest
from fastapi import Depends, FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionFactory
from app.identity.models import Tenant
from tests.di.asgi import ASGIApp, Receive, Send, client_for
from tests.fixtures.app import use_resources

Scope = MutableMapping[str, Any]


class Cancellable:
    """An ASGI wrapper that runs the app inside an AnyIO cancel scope the test can cancel, as a
    timeout middleware would; a cancelled request is answered 499 so the client gets a reply."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.scope = anyio.CancelScope()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.scope:
            await self.app(scope, receive, send)
        if self.scope.cancelled_caught:
            await send({"type": "http.response.start", "status": 499, "headers": []})
            await send({"type": "http.response.body", "body": b""})


class Hold:
    """Two events: the app reached the point (`reached`), and the test lets it go on (`go`)."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def here(self) -> None:
        self.reached.set()
        await self.go.wait()


def build_app(events: list[str], in_endpoint: Hold, in_cleanup: Hold) -> FastAPI:
    async def get_unit_of_work() -> AsyncIterator[str]:
        events.append("begin")
        try:
            yield "unit of work"
        except Exception as exc:  # the shape of app.core.db.transaction
            events.append(f"rollback after {type(exc).__name__}")
            raise
        except BaseException as exc:
            events.append(f"saw {type(exc).__name__}, not an Exception")
            raise
        finally:
            events.append("close")

    async def get_slow_cleanup() -> AsyncIterator[str]:
        yield "resource"
        events.append("cleanup starts")
        await in_cleanup.here()
        await anyio.lowlevel.checkpoint()  # where an unshielded cancellation would land
        events.append("cleanup finished")

    app = FastAPI()

    @app.get("/held")
    async def held(work: Annotated[str, Depends(get_unit_of_work, scope="function")]) -> str:
        events.append("endpoint holds")
        await in_endpoint.here()
        events.append("endpoint finished")
        return work

    @app.get("/slow-cleanup")
    async def slow_cleanup(
        resource: Annotated[str, Depends(get_slow_cleanup, scope="function")],
    ) -> str:
        return resource

    return app


async def test_a_cancelled_dependency_sees_cancelled_error_and_skips_except_exception() -> None:
    events: list[str] = []
    in_endpoint = Hold()
    app = Cancellable(build_app(events, in_endpoint, Hold()))
    async with client_for(app) as client:
        request = asyncio.create_task(client.get("/held"))
        await in_endpoint.reached.wait()
        app.scope.cancel()
        response = await request

    assert response.status_code == 499
    assert events == ["begin", "endpoint holds", "saw CancelledError, not an Exception", "close"]


async def test_the_cleanup_after_yield_is_shielded_from_the_cancellation() -> None:
    events: list[str] = []
    in_cleanup = Hold()
    app = Cancellable(build_app(events, Hold(), in_cleanup))
    async with client_for(app) as client:
        request = asyncio.create_task(client.get("/slow-cleanup"))
        await in_cleanup.reached.wait()
        app.scope.cancel()  # while the cleanup awaits
        in_cleanup.go.set()
        response = await request

    # The cleanup ran to its end; the cancellation was delivered after it (no response sent).
    assert events == ["cleanup starts", "cleanup finished"]
    assert response.status_code == 499


def build_sync_app(events: list[str], limiter_tokens: list[float]) -> FastAPI:
    def get_file() -> Iterator[str]:
        events.append("sync setup")
        yield "file"
        [limiter] = SHARED_POOL  # read in the worker thread, where AnyIO has no event loop
        limiter_tokens.append(limiter.available_tokens)
        events.append(f"sync exit in a worker: {threading.current_thread() is not MAIN}")

    app = FastAPI()

    @app.get("/file")
    async def read_file(file: Annotated[str, Depends(get_file, scope="function")]) -> str:
        # Take every token of the shared pool before returning: the exit must still run.
        limiter = anyio.to_thread.current_default_thread_limiter()
        SHARED_POOL[:] = [limiter]
        borrowers = [object() for _ in range(int(limiter.total_tokens))]
        for borrower in borrowers:
            limiter.acquire_on_behalf_of_nowait(borrower)
        BORROWED.extend(borrowers)
        return file

    return app


MAIN = threading.main_thread()
SHARED_POOL: list[anyio.CapacityLimiter] = []
BORROWED: list[object] = []


async def test_a_sync_generator_exit_runs_on_a_private_limiter_while_the_pool_is_exhausted() -> (
    None
):
    events: list[str] = []
    tokens: list[float] = []
    limiter = anyio.to_thread.current_default_thread_limiter()
    try:
        async with client_for(build_sync_app(events, tokens)) as client:
            response = await client.get("/file")
    finally:
        for borrower in BORROWED:
            limiter.release_on_behalf_of(borrower)
        BORROWED.clear()

    assert response.json() == "file"
    assert tokens == [0]  # the shared pool had no token left when the exit ran
    assert events == ["sync setup", "sync exit in a worker: True"]


class TestTheRealApp:
    """`get_session` (through signup) cancelled after its transaction flushed a row."""

    async def test_a_cancelled_request_is_not_committed_and_its_session_is_closed(
        self,
        app: FastAPI,
        session_factory: SessionFactory,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        calls: list[str] = []
        hashing = Hold()

        class HeldHasher:
            """Signup hashes the owner's password after the tenant row was flushed."""

            async def hash(self, password: str) -> str:
                await hashing.here()
                return "never stored"

        def recording_factory() -> AsyncSession:
            session = session_factory()
            for name in ("commit", "rollback", "close"):
                real = getattr(session, name)

                async def recorded(*args: Any, _name: str = name, _real: Any = real) -> Any:
                    calls.append(_name)
                    return await _real(*args)

                monkeypatch.setattr(session, name, recorded)
            return session

        use_resources(app, session_factory=recording_factory, password_hasher=HeldHasher())
        cancellable = Cancellable(app)
        body = {
            "name": "Cancelled",
            "slug": "cancelled-signup",
            "email": "owner@cancelled.example",
            "password": "a long enough password",
            "full_name": "Owner",
        }
        transport = httpx.ASGITransport(app=cancellable)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            request = asyncio.create_task(client.post("/api/v1/tenants", json=body))
            await hashing.reached.wait()  # the tenant row is flushed, in the open transaction
            cancellable.scope.cancel()
            response = await request

        assert response.status_code == 499
        # transaction(): no commit, the `except Exception` rollback skipped, the close ran.
        assert calls == ["close"]
        stored = await session.scalar(select(Tenant).where(Tenant.slug == "cancelled-signup"))
        assert stored is None
