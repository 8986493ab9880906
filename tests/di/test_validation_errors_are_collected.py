"""Validation errors are collected, not raised (FastAPI 0.165, `solve_dependencies`): a dependency
whose own inputs (path, query, header, cookie, body) fail validation is not called, and nor is
anything that depends on it, but the walk goes on. Its siblings still run, every error found on
the way is gathered, and one 422 listing them all is raised after the walk, so the response comes
after the siblings. An exception is different: it stops the walk at once, and it wins over a
validation error collected earlier."""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query

from tests.di.asgi import client_for, record_response


def build_app(events: list[str]) -> FastAPI:
    async def get_order(order_id: int) -> int:
        events.append("get_order")
        return order_id

    async def get_line(order: Annotated[int, Depends(get_order)]) -> str:
        events.append("get_line")
        return f"line of {order}"

    async def get_audit() -> str:
        events.append("get_audit")
        return "audit"

    async def get_limit(x_limit: Annotated[int, Header()]) -> int:
        events.append("get_limit")
        return x_limit

    async def forbid() -> None:
        events.append("forbid")
        raise HTTPException(403, "not allowed")

    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def read(
        line: Annotated[str, Depends(get_line)],
        audit: Annotated[str, Depends(get_audit)],
        limit: Annotated[int, Depends(get_limit)],
        verbose: Annotated[bool, Query()] = False,
    ) -> list[str]:
        events.append("endpoint")
        return [line, audit, str(limit), str(verbose)]

    @app.get("/guarded/{order_id}")
    async def guarded(
        line: Annotated[str, Depends(get_line)],
        guard: Annotated[None, Depends(forbid)],
        audit: Annotated[str, Depends(get_audit)],
    ) -> str:
        events.append("endpoint")
        return line

    return app


async def call(
    path: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, list[str]]:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app) as client:
        response = await client.get(path, params=params, headers=headers)
    return response.status_code, response.json(), events


async def test_every_dependency_runs_when_the_inputs_are_valid() -> None:
    status, body, events = await call(
        "/orders/7", params={"verbose": "true"}, headers={"X-Limit": "10"}
    )

    assert (status, body) == (200, ["line of 7", "audit", "10", "True"])
    assert events == [
        "get_order",
        "get_line",
        "get_audit",
        "get_limit",
        "endpoint",
        "response.start",
        "response.body",
    ]


async def test_siblings_still_run_and_the_422_comes_last() -> None:
    # order_id fails inside get_order (so get_order and get_line are skipped), X-Limit
    # fails inside get_limit (skipped), and the endpoint's own query parameter fails too.
    status, body, events = await call(
        "/orders/xyz", params={"verbose": "maybe"}, headers={"X-Limit": "many"}
    )

    assert status == 422
    assert [(error["loc"], error["type"]) for error in body["detail"]] == [
        (["path", "order_id"], "int_parsing"),
        (["header", "x-limit"], "int_parsing"),
        (["query", "verbose"], "bool_parsing"),
    ]
    # get_audit, the sibling declared between the two failing ones, was still called.
    assert events == ["get_audit", "response.start", "response.body"]


async def test_an_exception_stops_the_walk_and_beats_a_collected_validation_error() -> None:
    status, body, events = await call("/guarded/xyz")

    # get_line was skipped for its invalid input, then forbid raised: get_audit never ran, and
    # the client sees the 403, not the 422 that was being collected.
    assert (status, body) == (403, {"detail": "not allowed"})
    assert events == ["forbid", "response.start", "response.body"]
