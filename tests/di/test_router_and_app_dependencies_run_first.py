"""Where `dependencies=[...]` lists apply (FastAPI 0.165): app-level (`FastAPI(dependencies=...)`),
then `include_router(..., dependencies=...)`, then `APIRouter(dependencies=...)`, then the route
decorator's, then the endpoint's own parameters, left to right: app -> router -> route -> endpoint.
A callable listed at two levels still runs once (the per-request cache). With nested routers,
each level adds its include-level then its router-level list, outer to inner. Every list is copied
when a route is declared (`APIRouter.add_api_route`) or a router is included
(`_RouterIncludeContext.for_include`): appending to a router's `dependencies` afterwards changes
nothing for what was already declared or included."""

from typing import Annotated

from fastapi import APIRouter, FastAPI, params

from tests.di.asgi import client_for


def build_app(events: list[str]) -> FastAPI:
    def marker(name: str) -> params.Depends:
        async def dependency() -> str:
            events.append(name)
            return name

        dependency.__name__ = name
        return params.Depends(dependency)

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


async def test_app_then_include_then_router_then_route_then_parameters() -> None:
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


async def test_app_dependencies_apply_to_routes_declared_on_the_app_too() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/direct")

    assert response.status_code == 200
    assert events == ["app", "audit", "route decorator", "endpoint parameter", "endpoint"]


def build_nested_app(events: list[str]) -> FastAPI:
    def marker(name: str) -> params.Depends:
        async def dependency() -> None:
            events.append(name)

        dependency.__name__ = name.replace(" ", "_")
        return params.Depends(dependency)

    app = FastAPI(dependencies=[marker("app")])
    outer = APIRouter(prefix="/outer", dependencies=[marker("outer router")])
    inner = APIRouter(prefix="/inner", dependencies=[marker("inner router")])

    @inner.get("/route", dependencies=[marker("route decorator")])
    async def route() -> None:
        events.append("endpoint")

    # Too late for the route above: its list was copied from the router when it was declared.
    inner.dependencies.append(marker("appended to inner after the route"))
    outer.include_router(inner, dependencies=[marker("include inner")])
    # Too late for the inner routes: the include copied outer's list.
    outer.dependencies.append(marker("appended to outer after the include"))
    app.include_router(outer, dependencies=[marker("include outer")])
    return app


async def test_nested_routers_add_include_then_router_dependencies_outer_to_inner() -> None:
    events: list[str] = []
    async with client_for(build_nested_app(events)) as client:
        response = await client.get("/outer/inner/route")

    assert response.status_code == 200
    # _RouterIncludeContext.for_include: [*parent_router.dependencies, *include's]; combine()
    # puts the outer context first; the route's own list (router's + decorator's) comes last.
    assert events == [
        "app",
        "include outer",
        "outer router",
        "include inner",
        "inner router",
        "route decorator",
        "endpoint",
    ]
