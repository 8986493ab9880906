"""Called once, walked every time (FastAPI 0.165, `fastapi.dependencies.utils.solve_dependencies`).

For each declared sub-dependency, `solve_dependencies` first recurses into it (extracting and
validating its parameters, walking its own sub-dependencies), and only then looks its value up
in the per-request cache. So a dependency shared by several others is *called* once per request
but *walked* at every place it is declared, its whole sub-tree included. The cost of a graph is
the size of its expanded tree, not the number of its nodes: that is why Dependable's deep work
is one node whose own sub-tree is a single leaf (docs/dependency-injection.md)."""

from collections import Counter
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.routing import APIRoute
from pydantic import AfterValidator

from app.cli.depgraph import distinct_dependencies, walked_nodes
from tests.di.asgi import client_for
from tests.di.walk import counting_walk


def build_app(calls: Counter[str], validated: Counter[str]) -> FastAPI:
    def checked(value: str) -> str:
        validated["x-token"] += 1  # the header is validated at every walk of its node
        return value

    async def get_token(x_token: Annotated[str, Header(), AfterValidator(checked)]) -> str:
        calls["get_token"] += 1
        return x_token

    async def get_principal(token: Annotated[str, Depends(get_token)]) -> str:
        calls["get_principal"] += 1
        return f"user of {token}"

    PrincipalDep = Annotated[str, Depends(get_principal)]  # noqa: N806 - an alias, as in app/

    async def get_orders(principal: PrincipalDep) -> str:
        calls["get_orders"] += 1
        return "orders"

    async def get_invoices(principal: PrincipalDep) -> str:
        calls["get_invoices"] += 1
        return "invoices"

    app = FastAPI()

    @app.get("/")
    async def endpoint(
        principal: PrincipalDep,
        orders: Annotated[str, Depends(get_orders)],
        invoices: Annotated[str, Depends(get_invoices)],
    ) -> str:
        return principal

    return app


async def test_a_shared_dependency_is_called_once_but_walked_at_each_declaration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: Counter[str] = Counter()
    validated: Counter[str] = Counter()
    app = build_app(calls, validated)

    with counting_walk(monkeypatch) as walked:
        async with client_for(app) as client:
            response = await client.get("/", headers={"X-Token": "t"})

    assert response.status_code == 200
    # Called once each: the per-request cache.
    assert calls == Counter(get_token=1, get_principal=1, get_orders=1, get_invoices=1)
    # Walked: get_principal is declared three times (endpoint, get_orders, get_invoices), and
    # each declaration walks it and its get_token again: 3 x 2 + get_orders + get_invoices = 8.
    assert walked == [8]
    # The leaf's header is extracted and validated at each of its three walks.
    assert validated == Counter({"x-token": 3})


async def test_the_depgraph_figures_are_what_fastapi_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_app(Counter(), Counter())
    [route] = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path == "/"]
    dependant = route.dependant

    with counting_walk(monkeypatch) as walked:
        async with client_for(app) as client:
            await client.get("/", headers={"X-Token": "t"})

    assert walked == [walked_nodes(dependant)] == [8]
    assert distinct_dependencies(dependant) == 4
