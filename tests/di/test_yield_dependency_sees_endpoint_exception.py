"""A yield dependency sees the endpoint's exception at its `yield` (FastAPI 0.165), in both scopes,
and HTTPExceptions included: that is the rollback path; without one it commits. It must re-raise:
swallowing it turns the request into a 500 with a confusing error. Code after a bare `yield`
(no try/finally) is skipped on error. The real app's `get_session` is proven against PostgreSQL in
tests/http/test_session.py (rollback on error, commit before the response, always closed).

The return value is validated and serialized inside the function scope, before its stack closes,
so a return value that fails the response model is a `ResponseValidationError` at the `yield`:
the transaction rolls back and the client gets a 500, never a 2xx for unsaved data."""

from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.exceptions import FastAPIError
from pydantic import BaseModel

from tests.di.asgi import client_for, record_response


class Item(BaseModel):
    id: int
    name: str


def build_app(events: list[str]) -> FastAPI:
    async def get_transaction() -> AsyncIterator[str]:
        events.append("begin")
        try:
            yield "tx"
        except Exception as exc:
            events.append(f"rollback ({type(exc).__name__})")
            raise
        else:
            events.append("commit")
        finally:
            events.append("close")

    async def get_swallowing_transaction() -> AsyncIterator[str]:
        try:
            yield "tx"
        except Exception:  # the bug: no `raise`
            events.append("rollback, exception swallowed")

    async def get_bare_transaction() -> AsyncIterator[str]:
        events.append("begin")
        yield "tx"
        events.append("close")  # skipped when the endpoint raises

    def act(outcome: str) -> str:
        events.append("endpoint")
        if outcome == "conflict":
            raise HTTPException(409, "conflict")
        if outcome == "crash":
            raise RuntimeError("endpoint failed")
        return "ok"

    app = FastAPI()

    @app.post("/function/{outcome}")
    async def in_function_scope(
        outcome: str, tx: Annotated[str, Depends(get_transaction, scope="function")]
    ) -> str:
        return act(outcome)

    @app.post("/request/{outcome}")
    async def in_request_scope(outcome: str, tx: Annotated[str, Depends(get_transaction)]) -> str:
        return act(outcome)

    @app.post("/swallow/function")
    async def swallow_function(
        tx: Annotated[str, Depends(get_swallowing_transaction, scope="function")],
    ) -> str:
        raise RuntimeError("endpoint failed")

    @app.post("/swallow/request")
    async def swallow_request(tx: Annotated[str, Depends(get_swallowing_transaction)]) -> str:
        raise RuntimeError("endpoint failed")

    @app.post("/bare")
    async def bare(tx: Annotated[str, Depends(get_bare_transaction)]) -> str:
        events.append("endpoint")
        raise HTTPException(409, "conflict")

    # These two return what their response model refuses: the failure under test.
    @app.post("/invalid-response/function")
    async def invalid_response_function(
        tx: Annotated[str, Depends(get_transaction, scope="function")],
    ) -> Item:
        events.append("endpoint")
        return {"id": "not a number", "name": "stored?"}  # type: ignore[return-value]  # on purpose

    @app.post("/invalid-response/request")
    async def invalid_response_request(tx: Annotated[str, Depends(get_transaction)]) -> Item:
        events.append("endpoint")
        return {"id": "not a number", "name": "stored?"}  # type: ignore[return-value]  # on purpose

    return app


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_success_commits(scope: str) -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.post(f"/{scope}/ok")

    assert response.status_code == 200
    assert events == ["begin", "endpoint", "commit", "close"]


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_unexpected_exception_rolls_back(scope: str) -> None:
    events: list[str] = []
    async with client_for(build_app(events), raise_app_exceptions=False) as client:
        response = await client.post(f"/{scope}/crash")

    assert response.status_code == 500
    assert events == ["begin", "endpoint", "rollback (RuntimeError)", "close"]


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_http_exception_rolls_back_too(scope: str) -> None:
    # A 4xx raised as HTTPException passes through the dependency like any other exception.
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.post(f"/{scope}/conflict")

    assert response.status_code == 409
    assert events == ["begin", "endpoint", "rollback (HTTPException)", "close"]


async def test_swallowing_in_request_scope_is_a_fastapi_error() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        with pytest.raises(FastAPIError, match="Response not awaited"):
            await client.post("/swallow/request")

    assert events == ["rollback, exception swallowed"]


async def test_swallowing_in_function_scope_is_an_unbound_local_error() -> None:
    # FastAPI 0.165 has no friendly message for this case: the request handler's `response`
    # variable was never assigned.
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        with pytest.raises(UnboundLocalError, match="response"):
            await client.post("/swallow/function")

    assert events == ["rollback, exception swallowed"]


async def test_code_after_a_bare_yield_is_skipped_on_error() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.post("/bare")

    assert response.status_code == 409
    assert events == ["begin", "endpoint"]


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_response_validation_error_rolls_back(scope: str) -> None:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.post(f"/invalid-response/{scope}")

    # With the bare app, Starlette's ServerErrorMiddleware sends a plain 500 and re-raises.
    assert response.status_code == 500
    assert events == [
        "begin",
        "endpoint",
        "rollback (ResponseValidationError)",
        "close",
        "response.start",
        "response.body",
    ]
