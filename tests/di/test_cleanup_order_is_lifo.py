"""Yield dependencies are cleaned up in reverse order of setup (LIFO) on success and on error
(FastAPI 0.165): each scope is an `AsyncExitStack`. Across scopes the rule is per stack: every
`scope="function"` dependency is cleaned up (before the response) before any request-scoped one,
even one that was set up later."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, FastAPI

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

    get_a, get_b, get_c = resource("a"), resource("b"), resource("c")
    get_outer_inner = resource("inner")

    async def get_outer(inner: Annotated[str, Depends(get_outer_inner)]) -> AsyncIterator[str]:
        events.append("setup outer")
        yield f"outer({inner})"
        events.append("cleanup outer")

    app = FastAPI()

    @app.get("/siblings")
    async def siblings(
        a: Annotated[str, Depends(get_a)],
        b: Annotated[str, Depends(get_b)],
        c: Annotated[str, Depends(get_c)],
    ) -> str:
        events.append("endpoint")
        return a + b + c

    @app.get("/siblings-error")
    async def siblings_error(
        a: Annotated[str, Depends(get_a)],
        b: Annotated[str, Depends(get_b)],
        c: Annotated[str, Depends(get_c)],
    ) -> str:
        events.append("endpoint")
        raise RuntimeError("endpoint failed")

    @app.get("/nested")
    async def nested(outer: Annotated[str, Depends(get_outer)]) -> str:
        events.append("endpoint")
        return outer

    @app.get("/mixed")
    async def mixed(
        a: Annotated[str, Depends(get_a, scope="function")],
        b: Annotated[str, Depends(get_b)],
        c: Annotated[str, Depends(get_c, scope="function")],
    ) -> str:
        events.append("endpoint")
        return a + b + c

    return app


async def call(path: str) -> tuple[int, list[str]]:
    events: list[str] = []
    app = record_response(build_app(events), events)
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get(path)
    return response.status_code, events


async def test_siblings_are_cleaned_up_in_reverse_order_on_success() -> None:
    status, events = await call("/siblings")

    assert status == 200
    assert events == [
        "setup a",
        "setup b",
        "setup c",
        "endpoint",
        "response.start",
        "response.body",
        "cleanup c",
        "cleanup b",
        "cleanup a",
    ]


async def test_siblings_are_cleaned_up_in_reverse_order_on_error() -> None:
    status, events = await call("/siblings-error")

    assert status == 500
    assert events == [
        "setup a",
        "setup b",
        "setup c",
        "endpoint",
        "cleanup c after RuntimeError",
        "cleanup b after RuntimeError",
        "cleanup a after RuntimeError",
        "response.start",
        "response.body",
    ]


async def test_a_dependency_is_cleaned_up_before_what_it_depends_on() -> None:
    status, events = await call("/nested")

    assert status == 200
    assert events == [
        "setup inner",
        "setup outer",
        "endpoint",
        "response.start",
        "response.body",
        "cleanup outer",
        "cleanup inner",
    ]


async def test_function_scope_stack_unwinds_before_the_request_scope_stack() -> None:
    status, events = await call("/mixed")

    assert status == 200
    assert events == [
        "setup a",
        "setup b",
        "setup c",
        "endpoint",
        "cleanup c",
        "cleanup a",
        "response.start",
        "response.body",
        "cleanup b",
    ]
