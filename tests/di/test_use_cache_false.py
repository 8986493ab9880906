"""`Depends(f, use_cache=False)` opts out of the per-request cache (FastAPI 0.165): each dependant
that declares it that way gets its own call in the same request, while cached declarations of
the same callable in that request still share a single value."""

import itertools
from typing import Annotated

from fastapi import Depends, FastAPI

from tests.di.asgi import client_for


def build_app(events: list[str]) -> FastAPI:
    counter = itertools.count(1)

    async def new_nonce() -> int:
        number = next(counter)
        events.append(f"new_nonce #{number}")
        return number

    async def sign_request(nonce: Annotated[int, Depends(new_nonce, use_cache=False)]) -> int:
        events.append(f"sign_request got #{nonce}")
        return nonce

    async def sign_audit(nonce: Annotated[int, Depends(new_nonce, use_cache=False)]) -> int:
        events.append(f"sign_audit got #{nonce}")
        return nonce

    app = FastAPI()

    @app.get("/uncached")
    async def uncached(
        request_nonce: Annotated[int, Depends(sign_request)],
        audit_nonce: Annotated[int, Depends(sign_audit)],
    ) -> list[int]:
        events.append("endpoint")
        return [request_nonce, audit_nonce]

    @app.get("/cached")
    async def cached(
        first: Annotated[int, Depends(new_nonce)],
        second: Annotated[int, Depends(new_nonce)],
    ) -> list[int]:
        events.append("endpoint")
        return [first, second]

    return app


async def test_use_cache_false_calls_the_dependency_for_each_dependant():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/uncached")

    assert response.json() == [1, 2]
    assert events == [
        "new_nonce #1",
        "sign_request got #1",
        "new_nonce #2",
        "sign_audit got #2",
        "endpoint",
    ]


async def test_the_default_calls_it_once_for_comparison():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/cached")

    assert response.json() == [1, 1]
    assert events == ["new_nonce #1", "endpoint"]
