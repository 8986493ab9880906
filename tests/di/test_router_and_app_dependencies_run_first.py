"""Where `dependencies=[...]` lists apply (FastAPI 0.165): app-level (`FastAPI(dependencies=...)`),
then `include_router(..., dependencies=...)`, then `APIRouter(dependencies=...)`, then the route
decorator's, then the endpoint's own parameters, left to right: app -> router -> route -> endpoint.
A callable listed at two levels still runs once (the per-request cache)."""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, params

from tests.di.asgi import client_for


def build_app(events: list[str]) -> FastAPI:
    def marker(name: str) -> params.Depends:
        async def dependency() -> str:
            events.append(name)
            return name

        dependency.__name__ = name
        return Depends(dependency)

    audit = marker("audit")
    app = FastAPI(dependencies=[marker("app"), audit])
    router = APIRouter(prefix="/items", dependencies=[marker("router")])

    @router.get("", dependencies=[marker("route decorator"), audit])
    async def list_items(param: Annotated[str, marker("endpoint parameter")]) -> list[str]:
        events.append("endpoint")
        return []

    @app.get("/direct", dependencies=[marker("route decorator")])
    async def direct(param: Annotated[str, marker("endpoint parameter")]) -> list[str]:
        events.append("endpoint")
        return []

    app.include_router(router, dependencies=[marker("include_router")])
    return app


async def test_app_then_include_then_router_then_route_then_parameters():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/items")

    assert response.status_code == 200
    assert events == [
        "app",
        "audit",
        "include_router",
        "router",
        "route decorator",
        "endpoint parameter",
        "endpoint",
    ]


async def test_app_dependencies_apply_to_routes_declared_on_the_app_too():
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/direct")

    assert response.status_code == 200
    assert events == ["app", "audit", "route decorator", "endpoint parameter", "endpoint"]
