"""A node's own parameters are validated after its sub-dependencies ran (FastAPI 0.165,
`solve_dependencies`: the loop over `dependant.dependencies` comes first, then
`request_params_to_args` for the node's path, query, header and cookie parameters).

So a lookup like `user_for_change(user_id: UUID, service: UserServiceDep)` with a malformed id
is not called, but everything it depends on, and every sibling declared before it, has run: a
route taking it authenticates the caller before it answers 422. Dependable
keeps that order on purpose (docs/dependency-injection.md, "Validation order"): an anonymous
caller gets 401 whatever the path, and on the hot path the price of a malformed id is one JWT
decode and one Redis round trip, with no SQL (the transaction begins at its first statement)."""

import uuid
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.dependencies import ViewerDep
from app.user.dependencies import UserForChangeDep
from tests.di.asgi import client_for
from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem
from tests.fixtures.wire import on_the_wire


def build_app(events: list[str]) -> FastAPI:
    async def authenticate() -> str:
        events.append("authenticate")
        return "principal"

    async def get_service(principal: Annotated[str, Depends(authenticate)]) -> str:
        events.append("get_service")
        return "service"

    async def valid_item(item_id: uuid.UUID, service: Annotated[str, Depends(get_service)]) -> str:
        events.append("valid_item")
        return str(item_id)

    async def audit() -> None:
        events.append("audit (a sibling declared after the lookup)")

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(
        item: Annotated[str, Depends(valid_item)], _: Annotated[None, Depends(audit)]
    ) -> str:
        events.append("endpoint")
        return item

    return app


async def test_the_sub_dependencies_run_before_the_nodes_own_path_parameter_is_validated() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items/not-a-uuid")

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["path", "item_id"]]
    # The lookup and the endpoint are skipped; its sub-tree and its later sibling ran.
    assert events == [
        "authenticate",
        "get_service",
        "audit (a sibling declared after the lookup)",
    ]


@pytest.fixture
def lookup_route(app: FastAPI) -> Iterator[str]:
    """A route of the real app built as the house style builds one (the caller's role, then the
    row named in the path through its service), without the `:uuid` path converter the users'
    routes use: a malformed id reaches validation. Added for the test, removed after."""

    async def read_probed_user(_: ViewerDep, user: UserForChangeDep) -> str:
        return str(user.id)

    app.add_api_route("/api/v1/probe/users/{user_id}", read_probed_user, methods=["GET"])
    added = app.router.routes[-1]
    yield "/api/v1/probe/users/not-a-uuid"
    app.router.routes.remove(added)


@pytest.mark.usefixtures("lookup_route")
class TestTheRealApp:
    URL = "/api/v1/probe/users/not-a-uuid"

    async def test_anonymous_gets_401_before_the_malformed_id_is_looked_at(
        self, client: AsyncClient
    ) -> None:
        response = await client.get(self.URL)

        assert assert_problem(response, 401)["type"].endswith("not-authenticated")

    async def test_a_cached_caller_is_authenticated_then_422_without_sql(
        self,
        client: AsyncClient,
        acme: Org,
        connection: AsyncConnection,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        warm = await client.get("/api/v1/users/me", headers=acme.viewer.headers)  # caches them
        assert warm.status_code == 200

        with on_the_wire(connection, monkeypatch) as wire:
            response = await client.get(self.URL, headers=acme.viewer.headers)

        problem = assert_problem(response, 422)
        assert [error["loc"] for error in problem["errors"]] == [["path", "user_id"]]
        # Authentication ran (one pipeline: denylist, principal, tenant); the lookup did not.
        assert wire.redis_sends == 1
        assert wire.statements == []

    async def test_an_uncached_caller_is_read_from_postgresql_then_422(
        self,
        client: AsyncClient,
        acme: Org,
        connection: AsyncConnection,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        with on_the_wire(connection, monkeypatch) as wire:
            response = await client.get(self.URL, headers=acme.viewer.headers)

        assert assert_problem(response, 422)["errors"][0]["loc"] == ["path", "user_id"]
        # The tenant binding, the caller and the tenant; no query of the user named in the path.
        assert len(wire.statements) == 3, wire.statements
