"""What a non-empty `app.dependency_overrides` costs, and what an override cannot change
(FastAPI 0.165, `fastapi.dependencies.utils.solve_dependencies`).

While the dict is non-empty, `solve_dependencies` calls `get_dependant` for EVERY sub-dependency
it visits, overridden or not, and `get_dependant` re-reads the signature of that node's whole
sub-tree (new pydantic adapters included). A node visited k times is rebuilt k times, each time
with its sub-tree, so one request costs the sum of the sub-tree sizes over the expanded tree. With
an empty dict, no request builds anything: the tree built with the route is reused.

The rebuilt override is then checked like a route at build time, but per request: a generator
override that takes a function-scoped dependency raises `DependencyScopeError` on every request
(a 500), not at startup. And the body is read as the ROUTE decided when it was built
(`get_request_handler` reads it before any dependency is solved): an override that declares a
body parameter the original did not have never sees the body.

The real app runs its API tests with an empty dict (tests/fixtures/app.py), so they take the
production path; the last tests prove both halves on it."""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pytest
from fastapi import Body, Depends, FastAPI
from fastapi.dependencies import utils as dependency_utils
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import DependencyScopeError
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient

from app.auth import dependencies as auth_dependencies
from tests.di.asgi import client_for
from tests.di.walk import counting_walk
from tests.fixtures.app import provide
from tests.fixtures.auth import Org


@contextmanager
def counting_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts `get_dependant` calls by callable name. `solve_dependencies` and `get_dependant`'s
    own recursion both look the name up in the module, so patching it there sees every build."""
    built: Counter[str] = Counter()
    original = dependency_utils.get_dependant

    def counting_get_dependant(**kwargs: Any) -> Any:
        built[getattr(kwargs["call"], "__name__", repr(kwargs["call"]))] += 1
        return original(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(dependency_utils, "get_dependant", counting_get_dependant)
        yield built


def subtree_size(node: Dependant) -> int:
    return 1 + sum(subtree_size(sub) for sub in node.dependencies)


def rebuilds_per_request(node: Dependant) -> int:
    """What a non-empty overrides dict costs: each visited sub-dependency is rebuilt with its
    whole sub-tree, and the rebuilt tree is visited in turn."""
    return sum(subtree_size(sub) + rebuilds_per_request(sub) for sub in node.dependencies)


async def get_token() -> str:
    return "token"


async def get_principal(token: Annotated[str, Depends(get_token)]) -> str:
    return f"principal({token})"


PrincipalDep = Annotated[str, Depends(get_principal)]


async def get_orders(principal: PrincipalDep) -> str:
    return "orders"


async def get_invoices(principal: PrincipalDep) -> str:
    return "invoices"


async def unrelated() -> None:
    """Overridden by the tests below; no route declares it."""


def build_shared_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def endpoint(
        principal: PrincipalDep,
        orders: Annotated[str, Depends(get_orders)],
        invoices: Annotated[str, Depends(get_invoices)],
    ) -> str:
        return principal

    return app


def route_dependant(app: FastAPI, path: str) -> Dependant:
    [route] = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path == path]
    return route.dependant


async def test_the_rebuilds_are_the_sub_tree_sizes_summed_over_the_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = build_shared_app()
    async with client_for(app) as client:
        with counting_builds(monkeypatch) as without_overrides:
            await client.get("/")
        app.dependency_overrides[unrelated] = provide(None)  # nothing on the route
        with counting_builds(monkeypatch) as built, counting_walk(monkeypatch) as walked:
            response = await client.get("/")

    assert response.status_code == 200
    assert without_overrides == Counter()
    # get_principal is declared 3 times: 3 walks of (principal, token) = 6 nodes, + orders +
    # invoices = 8 visits. Each visit rebuilds the node's sub-tree: principal 2 (itself and the
    # token) and token 1 per principal walk, orders 3 and invoices 3: 3 x (2 + 1) + 2 x 3 = 15.
    assert walked == [8]
    assert built == Counter(get_principal=5, get_token=8, get_orders=1, get_invoices=1)
    assert built.total() == rebuilds_per_request(route_dependant(app, "/")) == 15


async def get_clock() -> str:
    return "clock"


async def get_session() -> AsyncIterator[str]:
    yield "session"


async def audited_clock(
    session: Annotated[str, Depends(get_session, scope="function")],
) -> AsyncIterator[str]:
    """A generator replacing a plain `Depends(get_clock)`: it becomes request-scoped, and a
    request-scoped generator may not take a function-scoped dependency."""
    yield f"clock({session})"


async def test_a_rebuilt_override_is_scope_checked_on_every_request() -> None:
    app = FastAPI()

    @app.get("/clock")
    async def clock(value: Annotated[str, Depends(get_clock)]) -> str:
        return value

    # Accepted here: the route was built (and checked) with the original.
    app.dependency_overrides[get_clock] = audited_clock
    async with client_for(app, raise_app_exceptions=False) as client:
        responses = [await client.get("/clock") for _ in range(2)]

    # Raised by get_dependant inside solve_dependencies, on each request: a 500 every time.
    assert [response.status_code for response in responses] == [500, 500]
    with pytest.raises(DependencyScopeError, match="audited_clock"):
        async with client_for(app) as client:
            await client.get("/clock")


async def get_note() -> str:
    return "no body"


async def note_from_the_body(note: Annotated[str, Body(embed=True)]) -> str:
    return note


async def test_an_override_cannot_change_how_the_body_is_read() -> None:
    app = FastAPI()

    @app.post("/notes")
    async def create_note(note: Annotated[str, Depends(get_note)]) -> str:
        return note

    app.dependency_overrides[get_note] = note_from_the_body
    async with client_for(app) as client:
        response = await client.post("/notes", json={"note": "hello"})

    # The route had no body parameter when it was built, so the body was never read: the
    # override's body parameter is missing although the client sent it.
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "note"]]


class TestTheRealApp:
    """The API tests' harness (tests/fixtures/app.py) runs the production dependency path."""

    async def test_an_api_request_runs_the_real_providers_with_an_empty_overrides_dict(
        self,
        app: FastAPI,
        client: AsyncClient,
        acme: Org,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        seen: list[tuple[Any, dict[Any, Any]]] = []
        real_solve = dependency_utils.solve_dependencies

        async def recording_solve(**kwargs: Any) -> Any:
            provider = kwargs["dependency_overrides_provider"]
            seen.append((kwargs["dependant"].call, dict(provider.dependency_overrides)))
            return await real_solve(**kwargs)

        # The first request builds the included routers' effective routes (lazily, once).
        await client.get("/api/v1/users/me", headers=acme.member.headers)
        monkeypatch.setattr(dependency_utils, "solve_dependencies", recording_solve)
        with counting_builds(monkeypatch) as built:
            response = await client.get("/api/v1/users/me", headers=acme.member.headers)

        assert response.status_code == 200
        assert response.json()["id"] == str(acme.member.user.id)
        assert app.dependency_overrides == {}
        calls = [call for call, _ in seen]
        # The real request context (JWT, Redis, PostgreSQL) was walked, and nothing overridden.
        assert auth_dependencies.get_request_context in calls
        assert all(overrides == {} for _, overrides in seen)
        assert built == Counter()  # the route's tree, built once, was reused

    @pytest.mark.overrides("what a non-empty overrides dict costs")
    async def test_an_unrelated_override_rebuilds_the_walked_tree_of_a_real_route(
        self,
        app: FastAPI,
        client: AsyncClient,
        acme: Org,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        template = "/api/v1/users/{user_id}"
        [context] = [
            c
            for c in iter_route_contexts(app.routes)
            if c.path_format == template and "PATCH" in (c.methods or ())
        ]
        assert context.dependant is not None
        url = f"/api/v1/users/{acme.viewer.user.id}"
        body = {"is_active": True}

        await client.patch(url, json=body, headers=acme.admin.headers)  # builds the routes
        with counting_builds(monkeypatch) as unbuilt:
            first = await client.patch(url, json=body, headers=acme.admin.headers)
        app.dependency_overrides[unrelated] = provide(None)
        with counting_builds(monkeypatch) as built:
            second = await client.patch(url, json=body, headers=acme.admin.headers)

        assert (first.status_code, second.status_code) == (200, 200)
        assert unbuilt == Counter()
        expected = rebuilds_per_request(context.dependant)
        print(f"PATCH {template}: {expected} Dependant builds per request with an override")
        assert built.total() == expected
