"""`Depends(f, max_concurrency=n)` (FastAPI 0.165): the limit belongs to the DECLARATION, not to
`f`. `solve_dependencies` runs a cache miss under `use_sub_dependant.concurrency`, the limit of
the declaration being resolved; the cache key (`_get_cache_key`) ignores the limit, so a later
declaration with another limit (or none) gets the cached value. Whichever declaration misses the
cache first decides whether the call is limited."""

from typing import Annotated

from fastapi import Depends, FastAPI

from tests.di.asgi import client_for


def build_app(observed: list[str]) -> FastAPI:
    async def call_the_api() -> str:
        # The limited declaration's semaphore: 0 while a limited call holds its only token.
        assert limited._concurrency is not None
        semaphore = limited._concurrency.get_semaphore()
        observed.append(f"tokens left {semaphore.value}")
        return "reply"

    limited = Depends(call_the_api, max_concurrency=1)
    Limited = Annotated[str, limited]  # noqa: N806 - an alias, as in app/
    Unlimited = Annotated[str, Depends(call_the_api)]  # noqa: N806

    app = FastAPI()

    @app.get("/limited-first")
    async def limited_first(first: Limited, second: Unlimited) -> list[str]:
        return [first, second]

    @app.get("/unlimited-first")
    async def unlimited_first(first: Unlimited, second: Limited) -> list[str]:
        return [first, second]

    return app


async def test_the_declaration_that_misses_the_cache_decides_the_limit() -> None:
    observed: list[str] = []
    async with client_for(build_app(observed)) as client:
        limited_first = await client.get("/limited-first")
        unlimited_first = await client.get("/unlimited-first")

    assert limited_first.json() == unlimited_first.json() == ["reply", "reply"]
    # One call per request (one cache key): under the limit when the limited declaration came
    # first, without it when the unlimited one did.
    assert observed == ["tokens left 0", "tokens left 1"]
