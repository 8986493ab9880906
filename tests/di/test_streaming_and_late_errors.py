"""Streaming and errors raised after the response started (FastAPI 0.165, Starlette 1.10).

`request_response` (fastapi/routing.py) closes the function-scope exit stack when the handler
RETURNS the response object, and only then sends it. A streamed body is produced while it is
sent: for a generator endpoint (`get_request_handler` calls the generator function, it does not
run it) and for a returned `StreamingResponse` alike, function-scoped cleanup has already run
when the first chunk is produced. A function-scoped session is closed while the stream runs.

So "on error, both scopes clean up before the error response" holds only for errors raised
before the response object is returned. A streamed body (or a background task) that fails meets
a function scope that already exited without an error (a session that already committed); only
the request scope sees the exception. No error response can be sent any more: the exception
reaches the server, and an exception type that HAS a handler (HTTPException, a domain error)
reaches it as Starlette's `RuntimeError("Caught handled exception, but response already
started.")` (`wrap_app_handling_exceptions`)."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse

from tests.di.asgi import client_for, record_response


def build_app(events: list[str]) -> FastAPI:
    def resource(name: str) -> Callable[[], AsyncIterator[str]]:
        async def dependency() -> AsyncIterator[str]:
            events.append(f"open {name}")
            try:
                yield name
            except Exception as exc:
                events.append(f"rollback {name} after {type(exc).__name__}")
                raise
            events.append(f"commit {name}")

        return dependency

    FunctionSession = Annotated[str, Depends(resource("function"), scope="function")]  # noqa: N806
    RequestSession = Annotated[str, Depends(resource("request"), scope="request")]  # noqa: N806

    async def chunks(fail_with: Exception | None = None) -> AsyncIterator[bytes]:
        events.append("first chunk")
        yield b"one\n"
        if fail_with is not None:
            events.append("the body fails")
            raise fail_with
        events.append("second chunk")
        yield b"two\n"

    app = FastAPI()

    @app.get("/generator", response_class=StreamingResponse)
    async def generator_endpoint(
        function: FunctionSession, request: RequestSession
    ) -> AsyncIterator[bytes]:
        events.append("endpoint body starts")
        async for chunk in chunks():
            yield chunk

    @app.get("/returned")
    async def returned(function: FunctionSession, request: RequestSession) -> StreamingResponse:
        events.append("endpoint")
        return StreamingResponse(chunks())

    @app.get("/failing-stream")
    async def failing_stream(
        function: FunctionSession, request: RequestSession
    ) -> StreamingResponse:
        return StreamingResponse(chunks(RuntimeError("the stream failed")))

    @app.get("/handled-in-stream")
    async def handled_in_stream(function: FunctionSession) -> StreamingResponse:
        return StreamingResponse(chunks(HTTPException(409, "too late for a 409")))

    async def refuse() -> None:
        events.append("background raises HTTPException")
        raise HTTPException(409, "too late for a 409")

    @app.post("/handled-in-background")
    async def handled_in_background(function: FunctionSession, background: BackgroundTasks) -> str:
        background.add_task(refuse)
        return "accepted"

    return app


@pytest.mark.parametrize("path", ["/generator", "/returned"])
async def test_function_scope_has_cleaned_up_before_the_first_chunk(path: str) -> None:
    events: list[str] = []
    async with client_for(record_response(build_app(events), events)) as client:
        response = await client.get(path)

    assert response.text == "one\ntwo\n"
    endpoint = "endpoint body starts" if path == "/generator" else "endpoint"
    # The generator endpoint's own code does not even start before the function scope closed.
    assert events == [
        "open function",
        "open request",
        *([endpoint] if path == "/returned" else []),
        "commit function",
        "response.start",
        *([endpoint] if path == "/generator" else []),
        "first chunk",
        "response.body",
        "second chunk",
        "response.body",
        "response.body",  # the empty last message
        "commit request",
    ]


async def test_a_failing_stream_meets_a_function_scope_that_already_committed() -> None:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/failing-stream")

    assert response.status_code == 200  # already sent when the body failed
    assert events == [
        "open function",
        "open request",
        "commit function",
        "response.start",
        "first chunk",
        "response.body",
        "the body fails",
        "rollback request after RuntimeError",
    ]
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="the stream failed"):
            await client.get("/failing-stream")


async def test_a_handled_exception_type_in_the_stream_reaches_the_server_as_already_started() -> (
    None
):
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        with pytest.raises(RuntimeError, match="response already started") as raised:
            await client.get("/handled-in-stream")

    assert isinstance(raised.value.__cause__, HTTPException)
    assert events == ["open function", "commit function", "first chunk", "the body fails"]


async def test_a_handled_exception_type_in_a_background_task_reaches_the_server_too() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        with pytest.raises(RuntimeError, match="response already started") as raised:
            await client.post("/handled-in-background")

    assert isinstance(raised.value.__cause__, HTTPException)
    assert events == ["open function", "commit function", "background raises HTTPException"]
