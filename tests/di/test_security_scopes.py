"""`Security` scopes (FastAPI 0.165): a dependency that takes `SecurityScopes` receives the union of
the scopes declared with `Security(..., scopes=[...])` along the path from the endpoint down to it
(outermost first, no duplicates), and the OpenAPI operation lists that union as the OAuth2
requirement of the route."""

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


async def test_scopes_accumulate_from_the_endpoint_down():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items", headers={"Authorization": "Bearer items,me"})

    assert response.status_code == 200
    assert events == ["get_principal ['items', 'me']", "get_active_principal", "endpoint"]


async def test_a_missing_scope_is_refused_before_the_endpoint():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items", headers={"Authorization": "Bearer me"})

    assert response.status_code == 403
    assert events == ["get_principal ['items', 'me']"]


async def test_router_scopes_are_a_separate_path_and_a_separate_call():
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


async def test_openapi_lists_the_union_per_route():
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
