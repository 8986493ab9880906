"""Every route outside an explicit public list is authenticated and tenant-scoped: its
dependency tree contains `get_request_context` (which authenticates the caller, checks their
tenant and binds the transaction to it). A new route that forgets it fails here before it can
leak anything. The few routes that act on a token's own session only (logout) are listed too."""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from app.auth.dependencies import (
    TokenClaimsDep,
    ViewerDep,
    get_request_context,
    get_token_claims,
)

PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/api/v1/tenants"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
}
# Authenticated by a valid, unrevoked token alone: they must work for a deactivated tenant.
TOKEN_ONLY = {("POST", "/api/v1/auth/logout")}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from calls(sub)


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, str(context.path_format), context.dependant


def unguarded(app: FastAPI) -> list[str]:
    found = []
    for method, path, dependant in api_routes(app):
        if (method, path) in PUBLIC:
            continue
        required = get_token_claims if (method, path) in TOKEN_ONLY else get_request_context
        if required not in set(calls(dependant)):
            found.append(f"{method} {path}")
    return found


def test_every_non_public_route_resolves_the_request_context(app_instance: FastAPI) -> None:
    assert unguarded(app_instance) == []


def test_the_check_catches_a_route_that_forgets_the_guard() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/api/v1")

    @router.get("/leak")
    async def leak(claims: TokenClaimsDep) -> None:  # authenticated, but not tenant-scoped
        return None

    @router.get("/ok")
    async def ok(principal: ViewerDep) -> None:
        return None

    app.include_router(router)
    assert unguarded(app) == ["GET /api/v1/leak"]


def test_the_public_list_names_only_routes_that_exist(app_instance: FastAPI) -> None:
    """Keeps the allow-list honest: a removed route must leave it too."""
    served = {(method, path) for method, path, _ in api_routes(app_instance)}
    # The docs pages are plain Starlette routes, not APIRoutes.
    plain = {
        (method, route.path)
        for route in app_instance.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    assert (PUBLIC | TOKEN_ONLY) - served - plain == set()


def test_protected_routes_declare_their_scope_in_openapi(app_instance: FastAPI) -> None:
    spec = app_instance.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in PUBLIC:
                continue
            [requirement] = operation["security"]
            if (method.upper(), path) in TOKEN_ONLY:  # any valid token: no role scope
                assert requirement == {"OAuth2PasswordBearer": []}
                continue
            assert requirement["OAuth2PasswordBearer"], f"{method.upper()} {path}"
