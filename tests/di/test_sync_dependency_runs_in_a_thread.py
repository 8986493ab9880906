"""Where dependencies run (FastAPI 0.165): a plain `def` dependency (and a sync generator, setup and
cleanup) runs in a worker thread of the threadpool; an `async def` one runs on the event loop's
thread. Hence DESIGN.md's rule that dependencies doing no blocking I/O are `async def`."""

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI

from tests.di.asgi import client_for


def build_app(events: list[tuple[str, int]]) -> FastAPI:
    def sync_dependency() -> str:
        events.append(("sync", threading.get_ident()))
        return "sync"

    def sync_generator() -> Iterator[str]:
        events.append(("sync generator setup", threading.get_ident()))
        yield "generator"
        events.append(("sync generator cleanup", threading.get_ident()))

    async def async_dependency() -> str:
        events.append(("async", threading.get_ident()))
        return "async"

    app = FastAPI()

    @app.get("/where")
    async def where(
        sync: Annotated[str, Depends(sync_dependency)],
        generator: Annotated[str, Depends(sync_generator, scope="function")],
        asynchronous: Annotated[str, Depends(async_dependency)],
    ) -> list[str]:
        events.append(("endpoint", threading.get_ident()))
        return [sync, generator, asynchronous]

    return app


async def test_sync_dependencies_leave_the_loop_thread_async_ones_stay() -> None:
    loop_thread = threading.get_ident()  # the test coroutine runs on the event loop
    events: list[tuple[str, int]] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/where")

    assert response.json() == ["sync", "generator", "async"]
    assert [(name, ident == loop_thread) for name, ident in events] == [
        ("sync", False),
        ("sync generator setup", False),
        ("async", True),
        ("endpoint", True),
        ("sync generator cleanup", False),
    ]
