"""`Security` scopes (FastAPI 0.165): a dependency that takes `SecurityScopes` receives the union of
the scopes declared with `Security(..., scopes=[...])` along the path from the endpoint down to it
(outermost first), and the OpenAPI operation lists that union as the OAuth2 requirement of the
route. The list is not free of duplicates: `get_dependant` concatenates parent and own scopes level
by level, and `_get_oauth_scopes` only drops an own scope already in the parent list, so a scope
declared at two levels above a node reaches it twice. And the cache key holds the scope set
(`_get_cache_key`): `Security(f, scopes=[...])` markers with different scopes are separate calls."""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from tests.di.asgi import client_for

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/token",
    scopes={"me": "Read your profile", "items": "Read items", "admin": "Administer"},
)


def build_app(events: list[str]) -> FastAPI:
    async def get_principal(
        security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]
    ) -> str:
        events.append(f"get_principal {security_scopes.scopes}")
        granted = set(token.split(","))  # the "token" is its scopes, comma-separated
        missing = [scope for scope in security_scopes.scopes if scope not in granted]
        if missing:
            raise HTTPException(403, f"missing scopes {missing}")
        return "principal"

    async def get_active_principal(
        principal: Annotated[str, Security(get_principal, scopes=["me"])],
    ) -> str:
        events.append("get_active_principal")
        return principal

    app = FastAPI()
    admin = APIRouter(prefix="/admin", dependencies=[Security(get_principal, scopes=["admin"])])

    @app.get("/items")
    async def read_items(
        principal: Annotated[str, Security(get_active_principal, scopes=["items"])],
    ) -> str:
        events.append("endpoint")
        return principal

    @admin.get("/items")
    async def admin_items(
        principal: Annotated[str, Security(get_active_principal, scopes=["items"])],
    ) -> str:
        events.append("endpoint")
        return principal

    app.include_router(admin)
    return app


async def test_scopes_accumulate_from_the_endpoint_down() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items", headers={"Authorization": "Bearer items,me"})

    assert response.status_code == 200
    assert events == ["get_principal ['items', 'me']", "get_active_principal", "endpoint"]


async def test_a_missing_scope_is_refused_before_the_endpoint() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items", headers={"Authorization": "Bearer me"})

    assert response.status_code == 403
    assert events == ["get_principal ['items', 'me']"]


async def test_router_scopes_are_a_separate_path_and_a_separate_call() -> None:
    # The router's Security(get_principal, scopes=["admin"]) and the endpoint's path reach
    # get_principal with different scope sets: two cache keys, two calls.
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get(
            "/admin/items", headers={"Authorization": "Bearer admin,items,me"}
        )

    assert response.status_code == 200
    assert events == [
        "get_principal ['admin']",
        "get_principal ['items', 'me']",
        "get_active_principal",
        "endpoint",
    ]


async def test_openapi_lists_the_union_per_route() -> None:
    app = build_app([])
    spec = app.openapi()

    assert spec["paths"]["/items"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items", "me"]}]
    assert spec["paths"]["/admin/items"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["admin", "items", "me"]}
    ]
    scheme = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["scopes"] == {
        "me": "Read your profile",
        "items": "Read items",
        "admin": "Administer",
    }


def build_nested_app(events: list[str]) -> FastAPI:
    async def get_scopes(security_scopes: SecurityScopes) -> list[str]:
        events.append("get_scopes")
        return security_scopes.scopes

    async def middle(
        scopes: Annotated[list[str], Depends(get_scopes)],
    ) -> list[str]:
        return scopes

    async def outer(
        scopes: Annotated[list[str], Security(middle, scopes=["items"])],
    ) -> list[str]:
        return scopes

    app = FastAPI()

    @app.get("/nested")
    async def nested(scopes: Annotated[list[str], Security(outer, scopes=["items"])]) -> list[str]:
        return scopes

    @app.get("/markers")
    async def markers(
        first: Annotated[list[str], Security(get_scopes, scopes=["me"])],
        second: Annotated[list[str], Security(get_scopes, scopes=["items"])],
        third: Annotated[list[str], Security(get_scopes, scopes=["me"])],
        plain: Annotated[list[str], Depends(get_scopes)],
    ) -> list[list[str]]:
        return [first, second, third, plain]

    return app


async def test_scopes_are_concatenated_level_by_level_so_duplicates_survive() -> None:
    # get_dependant passes `parent + own` down unchanged; _get_oauth_scopes only skips an own
    # scope already in the parent's list. Two levels declaring "items" give it twice below them.
    events: list[str] = []
    async with client_for(build_nested_app(events)) as client:
        response = await client.get("/nested")

    assert response.json() == ["items", "items"]


async def test_security_markers_with_different_scopes_are_different_cache_keys() -> None:
    # The key holds the sorted scope set (_get_cache_key): markers of one function share one
    # call only when they carry the same scopes.
    events: list[str] = []
    async with client_for(build_nested_app(events)) as client:
        response = await client.get("/markers")

    assert response.json() == [["me"], ["items"], ["me"], []]
    assert events == ["get_scopes", "get_scopes", "get_scopes"]  # me, items, none
