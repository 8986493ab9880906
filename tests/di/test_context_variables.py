"""Context variables set by dependencies (FastAPI 0.165 `solve_dependencies`, Starlette
`run_in_threadpool`, AnyIO `to_thread.run_sync`).

A `def` dependency runs in a worker thread, in a COPY of the request's context: what it sets
there is lost when it returns, so neither the endpoint nor the middleware sees it. An `async def`
dependency runs in the request's own context: what it sets reaches the endpoint and every pure
ASGI middleware around the app (in their `send` wrapper and after the call). The logging context
relies on this: `get_request_context` is an `async def` that sets `tenant_id_var` and
`user_id_var` (app/auth/dependencies.py), and the access log reads them."""

from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, FastAPI

from tests.di.asgi import ASGIApp, Message, Receive, Scope, Send, client_for

set_by_sync: ContextVar[str | None] = ContextVar("set_by_sync", default=None)
set_by_async: ContextVar[str | None] = ContextVar("set_by_async", default=None)


def seen() -> dict[str, str | None]:
    return {"sync": set_by_sync.get(), "async": set_by_async.get()}


def observing(app: ASGIApp, observed: dict[str, dict[str, str | None]]) -> ASGIApp:
    """A pure ASGI middleware that reads both variables when the response starts and at the end."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observed["middleware at response start"] = seen()
            await send(message)

        await app(scope, receive, observed_send)
        observed["middleware after the app"] = seen()

    return middleware


def build_app(observed: dict[str, dict[str, str | None]]) -> FastAPI:
    def sync_dependency() -> None:
        set_by_sync.set("written in a worker thread")
        observed["inside the def dependency"] = seen()

    async def async_dependency() -> None:
        set_by_async.set("written on the event loop")

    app = FastAPI()

    @app.get("/")
    async def endpoint(
        _sync: Annotated[None, Depends(sync_dependency)],
        _async: Annotated[None, Depends(async_dependency)],
    ) -> None:
        observed["endpoint"] = seen()

    return app


async def test_only_async_dependencies_set_context_variables_for_the_request() -> None:
    observed: dict[str, dict[str, str | None]] = {}
    async with client_for(observing(build_app(observed), observed)) as client:
        response = await client.get("/")

    assert response.status_code == 200
    written = {"sync": "written in a worker thread", "async": None}
    reached = {"sync": None, "async": "written on the event loop"}
    assert observed == {
        "inside the def dependency": written,
        "endpoint": reached,
        "middleware at response start": reached,
        "middleware after the app": reached,
    }
