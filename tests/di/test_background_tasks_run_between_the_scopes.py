"""When a `BackgroundTasks` task runs (FastAPI 0.165): Starlette's `Response.__call__` runs the
tasks after it has sent the last body chunk, and FastAPI awaits the response inside the
request-scope exit stack but after the function-scope stack has closed. So a task runs after the
response and after function-scope cleanup (a `scope="function"` session has committed and
closed), and before request-scope cleanup. A task that raises cannot change the response, which
is already sent; the exception then unwinds the request-scoped yield dependencies."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI

from tests.di.asgi import client_for, record_response


def build_app(events: list[str]) -> FastAPI:
    def resource(name: str) -> Callable[[], AsyncIterator[str]]:
        async def dependency() -> AsyncIterator[str]:
            events.append(f"setup {name}")
            try:
                yield name
            except Exception as exc:
                events.append(f"cleanup {name} after {type(exc).__name__}")
                raise
            else:
                events.append(f"cleanup {name}")

        return dependency

    get_function_resource = resource("function")
    get_request_resource = resource("request")

    async def task(name: str) -> None:
        events.append(f"background {name}")

    async def failing_task() -> None:
        events.append("background failing")
        raise RuntimeError("the background task failed")

    app = FastAPI()

    @app.post("/work")
    async def work(
        function: Annotated[str, Depends(get_function_resource, scope="function")],
        request: Annotated[str, Depends(get_request_resource, scope="request")],
        background: BackgroundTasks,
    ) -> str:
        events.append("endpoint")
        background.add_task(task, "first")
        background.add_task(task, "second")
        return "accepted"

    @app.post("/failing-work")
    async def failing_work(
        function: Annotated[str, Depends(get_function_resource, scope="function")],
        request: Annotated[str, Depends(get_request_resource, scope="request")],
        background: BackgroundTasks,
    ) -> str:
        events.append("endpoint")
        background.add_task(failing_task)
        background.add_task(task, "never")
        return "accepted"

    return app


async def test_background_task_runs_after_the_response_and_before_request_cleanup() -> None:
    events: list[str] = []
    async with client_for(record_response(build_app(events), events)) as client:
        response = await client.post("/work")

    assert response.json() == "accepted"
    assert events == [
        "setup function",
        "setup request",
        "endpoint",
        "cleanup function",
        "response.start",
        "response.body",
        "background first",
        "background second",
        "cleanup request",
    ]


async def test_a_failing_background_task_cannot_change_the_response() -> None:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="the background task failed"):
            await client.post("/failing-work")

    # The 200 was sent before the task ran; the exception went to the server (here, to httpx),
    # skipped the remaining task and unwound the request-scoped dependency.
    async with client_for(app, raise_app_exceptions=False) as client:
        events.clear()
        response = await client.post("/failing-work")

    assert response.status_code == 200
    assert events == [
        "setup function",
        "setup request",
        "endpoint",
        "cleanup function",
        "response.start",
        "response.body",
        "background failing",
        "cleanup request after RuntimeError",
    ]
