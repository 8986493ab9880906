"""When the code after `yield` runs (FastAPI 0.165), seen from the ASGI `send` calls. With
`Depends(..., scope="function")` it runs when the endpoint returns, before "response.start"; with
`scope="request"` or the default it runs after "response.body", i.e. after the response has been
sent. The article's "after the response is returned" is only true for the latter, and only on
success: when the endpoint raises, every cleanup runs before the error response is sent.

A request-scoped generator cannot depend directly on a function-scoped one (its cleanup would run
after its dependency's): `get_dependant` raises `DependencyScopeError` when the route is built.
The check looks only at the generator's own parameters, so a plain dependency in between hides
the function-scoped one, and then the generator's exit code runs after that one has closed."""

from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.exceptions import DependencyScopeError
from starlette.routing import Route

from tests.di.asgi import client_for, record_response


def build_app(events: list[str]) -> FastAPI:
    async def get_resource() -> AsyncIterator[str]:
        events.append("setup")
        try:
            yield "resource"
        finally:  # without `finally`, an exception at the yield skips this code entirely
            events.append("cleanup")

    async def commit_that_fails() -> AsyncIterator[str]:
        yield "session"
        events.append("commit fails")
        raise RuntimeError("commit failed")

    app = FastAPI()

    @app.get("/function")
    async def function_scope(
        resource: Annotated[str, Depends(get_resource, scope="function")],
    ) -> str:
        events.append("endpoint")
        return resource

    @app.get("/request")
    async def request_scope(
        resource: Annotated[str, Depends(get_resource, scope="request")],
    ) -> str:
        events.append("endpoint")
        return resource

    @app.get("/default")
    async def default_scope(resource: Annotated[str, Depends(get_resource)]) -> str:
        events.append("endpoint")
        return resource

    @app.get("/request-error")
    async def request_scope_error(
        resource: Annotated[str, Depends(get_resource, scope="request")],
    ) -> str:
        events.append("endpoint")
        raise HTTPException(409, "conflict")

    @app.get("/late-commit/default")
    async def late_commit_default(session: Annotated[str, Depends(commit_that_fails)]) -> str:
        events.append("endpoint")
        return "stored?"

    @app.get("/late-commit/function")
    async def late_commit_function(
        session: Annotated[str, Depends(commit_that_fails, scope="function")],
    ) -> str:
        events.append("endpoint")
        return "stored?"

    return app


async def call(path: str, *, raise_app_exceptions: bool = True) -> tuple[int, list[str]]:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app, raise_app_exceptions=raise_app_exceptions) as client:
        response = await client.get(path)
    return response.status_code, events


async def test_function_scope_cleans_up_before_the_response_starts() -> None:
    status, events = await call("/function")

    assert status == 200
    assert events == ["setup", "endpoint", "cleanup", "response.start", "response.body"]


async def test_request_scope_cleans_up_after_the_response_is_sent() -> None:
    status, events = await call("/request")

    assert status == 200
    assert events == ["setup", "endpoint", "response.start", "response.body", "cleanup"]


async def test_default_scope_of_a_yield_dependency_is_request() -> None:
    status, events = await call("/default")

    assert status == 200
    assert events == ["setup", "endpoint", "response.start", "response.body", "cleanup"]


async def test_on_error_request_scope_cleans_up_before_the_error_response() -> None:
    # The error response is built by the exception handler, outside the dependency exit stacks,
    # so the exception first unwinds every yield dependency.
    status, events = await call("/request-error")

    assert status == 409
    assert events == ["setup", "endpoint", "cleanup", "response.start", "response.body"]


async def test_a_failure_after_yield_in_request_scope_cannot_change_the_status() -> None:
    # A commit in request (default) scope fails after a 200 went out: the client was told
    # "stored" and the error only reaches the server. This is why app/http/deps.py declares
    # get_session with scope="function" (the real-app proof: tests/http/test_session.py).
    status, events = await call("/late-commit/default", raise_app_exceptions=False)

    assert status == 200
    assert events == ["endpoint", "response.start", "response.body", "commit fails"]


async def test_a_failure_after_yield_in_function_scope_is_a_500() -> None:
    status, events = await call("/late-commit/function", raise_app_exceptions=False)

    # With the bare app, Starlette's ServerErrorMiddleware sends a plain 500 and re-raises.
    assert status == 500
    assert events == ["endpoint", "commit fails", "response.start", "response.body"]


async def test_request_scope_cannot_depend_on_function_scope() -> None:
    async def get_session() -> AsyncIterator[str]:
        yield "session"

    async def get_unit_of_work(
        session: Annotated[str, Depends(get_session, scope="function")],
    ) -> AsyncIterator[str]:
        yield f"unit of work({session})"

    app = FastAPI()

    with pytest.raises(DependencyScopeError) as refused:

        @app.get("/request-scoped")
        async def request_scoped(uow: Annotated[str, Depends(get_unit_of_work)]) -> str:
            return uow

    assert str(refused.value) == (
        'The dependency "get_unit_of_work" has a scope of "request", '
        'it cannot depend on dependencies with scope "function".'
    )
    assert [r for r in app.routes if isinstance(r, Route) and r.path == "/request-scoped"] == []

    # Declared function-scoped itself, the same generator is accepted.
    @app.get("/function-scoped")
    async def function_scoped(
        uow: Annotated[str, Depends(get_unit_of_work, scope="function")],
    ) -> str:
        return uow

    async with client_for(app) as client:
        response = await client.get("/function-scoped")
    assert response.json() == "unit of work(session)"


async def test_a_plain_dependency_in_between_hides_the_function_scope() -> None:
    events: list[str] = []

    async def get_session() -> AsyncIterator[str]:
        events.append("session open")
        yield "session"
        events.append("session closed")

    async def get_repository(
        session: Annotated[str, Depends(get_session, scope="function")],
    ) -> str:
        return f"repository({session})"

    async def get_unit_of_work(
        repository: Annotated[str, Depends(get_repository)],
    ) -> AsyncIterator[str]:
        events.append("unit of work setup")
        yield repository
        events.append("unit of work cleanup")  # the session it used is already closed

    app = FastAPI()

    @app.get("/accepted")  # no DependencyScopeError: get_unit_of_work's parameter is not scoped
    async def accepted(uow: Annotated[str, Depends(get_unit_of_work)]) -> str:
        events.append("endpoint")
        return uow

    async with client_for(record_response(app, events)) as client:
        response = await client.get("/accepted")

    assert response.json() == "repository(session)"
    assert events == [
        "session open",
        "unit of work setup",
        "endpoint",
        "session closed",
        "response.start",
        "response.body",
        "unit of work cleanup",
    ]


def test_the_scope_check_reads_the_declared_scope_even_for_a_plain_function() -> None:
    # get_dependant compares the DECLARED scope of the parameter (`Depends(...).scope`), not
    # the callable's kind: a plain function has no exit code, yet it is refused here.
    async def get_clock() -> str:
        return "clock"

    async def get_stream(
        clock: Annotated[str, Depends(get_clock, scope="function")],
    ) -> AsyncIterator[str]:
        yield clock

    app = FastAPI()
    with pytest.raises(DependencyScopeError, match='"get_stream" has a scope of "request"'):

        @app.get("/stream")
        async def stream(value: Annotated[str, Depends(get_stream)]) -> str:
            return value

    # Declared without the scope, the same plain function is accepted.
    async def get_plain_stream(clock: Annotated[str, Depends(get_clock)]) -> AsyncIterator[str]:
        yield clock

    @app.get("/plain")
    async def plain(value: Annotated[str, Depends(get_plain_stream)]) -> str:
        return value
