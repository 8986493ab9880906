"""`Depends(f, use_cache=False)` opts out of the per-request cache LOOKUP (FastAPI 0.165,
`solve_dependencies`): each dependant that declares it that way gets its own call. It is not
"fresh for everyone": the uncached result is still STORED in the cache when nothing is there yet,
so a cached declaration resolved later in the request receives it; the option is dropped in
`dependencies=[...]` (`get_parameterless_sub_dependant` does not pass it on); and under a shared
dependency, the uncached node runs at every walk of that dependency, used or not."""

import itertools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

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


async def test_use_cache_false_calls_the_dependency_for_each_dependant() -> None:
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


async def test_the_default_calls_it_once_for_comparison() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/cached")

    assert response.json() == [1, 1]
    assert events == ["new_nonce #1", "endpoint"]


# --- what `use_cache=False` does not do (solve_dependencies, get_parameterless_sub_dependant) ---


def build_session_app(events: list[str]) -> FastAPI:
    counter = itertools.count(1)

    async def get_session() -> AsyncIterator[str]:
        number = next(counter)
        events.append(f"open session #{number}")
        yield f"session #{number}"
        events.append(f"close session #{number}")

    SessionDep = Annotated[str, Depends(get_session)]  # noqa: N806 - an alias, as in app/

    async def get_audit_session(
        session: Annotated[str, Depends(get_session, use_cache=False)],
    ) -> str:
        return session

    app = FastAPI()

    @app.get("/audit-first")
    async def audit_first(
        audit: Annotated[str, Depends(get_audit_session)], main: SessionDep
    ) -> list[str]:
        return [audit, main]

    @app.get("/main-first")
    async def main_first(
        main: SessionDep, audit: Annotated[str, Depends(get_audit_session)]
    ) -> list[str]:
        return [audit, main]

    return app


async def test_an_uncached_result_fills_the_cache_for_the_declarations_after_it() -> None:
    # solve_dependencies stores every result whose key is not in the cache yet, uncached or not.
    events: list[str] = []
    async with client_for(build_session_app(events)) as client:
        audit_first = await client.get("/audit-first")
        main_first = await client.get("/main-first")

    # Declared first, the "independent audit session" BECOMES the main session: one call.
    assert audit_first.json() == ["session #1", "session #1"]
    # Declared after the main one, it is independent: two calls.
    assert main_first.json() == ["session #3", "session #2"]
    assert events == [
        "open session #1",
        "close session #1",
        "open session #2",
        "open session #3",
        "close session #3",
        "close session #2",
    ]


async def test_use_cache_false_is_dropped_in_a_dependencies_list() -> None:
    events: list[str] = []
    counter = itertools.count(1)

    async def new_nonce() -> int:
        number = next(counter)
        events.append(f"new_nonce #{number}")
        return number

    app = FastAPI()

    @app.get(
        "/listed",
        dependencies=[Depends(new_nonce, use_cache=False), Depends(new_nonce, use_cache=False)],
    )
    async def listed(nonce: Annotated[int, Depends(new_nonce)]) -> int:
        return nonce

    async with client_for(app) as client:
        response = await client.get("/listed")

    # get_parameterless_sub_dependant does not pass use_cache on: all three share one call.
    [route] = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path == "/listed"]
    assert [sub.use_cache for sub in route.dependant.dependencies] == [True, True, True]
    assert response.json() == 1
    assert events == ["new_nonce #1"]


async def test_under_a_shared_dependency_an_uncached_node_runs_once_per_declaration_of_it() -> None:
    events: list[str] = []
    counter = itertools.count(1)

    async def new_nonce() -> int:
        number = next(counter)
        events.append(f"new_nonce #{number}")
        return number

    async def get_principal(nonce: Annotated[int, Depends(new_nonce, use_cache=False)]) -> int:
        events.append(f"get_principal got #{nonce}")
        return nonce

    PrincipalDep = Annotated[int, Depends(get_principal)]  # noqa: N806

    async def get_owned(principal: PrincipalDep) -> int:
        return principal

    app = FastAPI()

    @app.get("/shared")
    async def shared(
        principal: PrincipalDep, owned: Annotated[int, Depends(get_owned)]
    ) -> list[int]:
        return [principal, owned]

    async with client_for(app) as client:
        response = await client.get("/shared")

    # get_principal is called once (cached), but its sub-tree is walked at each of its two
    # declarations, and the uncached nonce is called at each walk: the second value is unused.
    assert response.json() == [1, 1]
    assert events == ["new_nonce #1", "get_principal got #1", "new_nonce #2"]
