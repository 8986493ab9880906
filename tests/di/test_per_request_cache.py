"""The per-request dependency cache (FastAPI 0.165): a dependency needed by three others runs once
per request and again on the next request. The cache key is the callable plus its scopes (the
security scopes it uses and its computed `scope`), not the `Depends` object: two `Depends(f)` share
one call, while `Depends(gen)` and `Depends(gen, scope="function")`, or `Security(f, scopes=[...])`
with different scopes, are different keys and run separately.

The cache saves calls, not the walk: `solve_dependencies` walks a node's subtree before it looks
the node up, so at every declaration of a cached node its parameters are extracted and validated
again, although the node itself is called once."""

import itertools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Security
from fastapi.security import SecurityScopes
from pydantic import AfterValidator

from tests.di.asgi import client_for


async def get_db_placeholder() -> None:
    """Only used to show that the markers compare unequal."""


def build_app(events: list[str]) -> FastAPI:
    counter = itertools.count(1)

    async def get_db() -> int:
        number = next(counter)
        events.append(f"get_db #{number}")
        return number

    # Three declarations, three distinct (and unequal) marker objects, one callable.
    async def get_repository(db: Annotated[int, Depends(get_db)]) -> int:
        events.append("get_repository")
        return db

    async def get_service(db: Annotated[int, Depends(get_db, max_concurrency=8)]) -> int:
        events.append("get_service")
        return db

    async def get_audit(db: Annotated[int, Security(get_db)]) -> int:
        events.append("get_audit")
        return db

    app = FastAPI()

    @app.get("/shared")
    async def shared(
        repository: Annotated[int, Depends(get_repository)],
        service: Annotated[int, Depends(get_service)],
        audit: Annotated[int, Depends(get_audit)],
    ) -> list[int]:
        events.append("endpoint")
        return [repository, service, audit]

    async def get_session() -> AsyncIterator[str]:
        events.append("get_session setup")
        yield "session"
        events.append("get_session cleanup")

    @app.get("/mixed-scope")
    async def mixed_scope(
        by_default: Annotated[str, Depends(get_session)],
        by_function: Annotated[str, Depends(get_session, scope="function")],
    ) -> list[str]:
        events.append("endpoint")
        return [by_default, by_function]

    async def get_principal(security_scopes: SecurityScopes) -> str:
        events.append(f"get_principal {security_scopes.scopes}")
        return "principal"

    @app.get("/two-scope-sets")
    async def two_scope_sets(
        reader: Annotated[str, Security(get_principal, scopes=["read"])],
        writer: Annotated[str, Security(get_principal, scopes=["write"])],
        reader_again: Annotated[str, Security(get_principal, scopes=["read"])],
    ) -> list[str]:
        events.append("endpoint")
        return [reader, writer, reader_again]

    return app


async def test_shared_dependency_runs_once_per_request_and_again_next_request() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        first = await client.get("/shared")
        second = await client.get("/shared")

    # All three dependants received the value of the single call of their request.
    assert first.json() == [1, 1, 1]
    assert second.json() == [2, 2, 2]
    assert events == [
        "get_db #1",
        "get_repository",
        "get_service",
        "get_audit",
        "endpoint",
        "get_db #2",
        "get_repository",
        "get_service",
        "get_audit",
        "endpoint",
    ]


async def test_two_depends_objects_of_one_function_share_the_call() -> None:
    # get_repository, get_service and get_audit declare get_db with Depends(get_db),
    # Depends(get_db, max_concurrency=8) and Security(get_db): three unequal objects. One call,
    # because the key is (callable, security scopes used, computed scope), not the marker.
    assert Depends(get_db_placeholder) != Security(get_db_placeholder)
    assert Depends(get_db_placeholder) != Depends(get_db_placeholder, max_concurrency=8)
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        await client.get("/shared")

    assert [event for event in events if event.startswith("get_db")] == ["get_db #1"]


async def test_same_generator_with_another_scope_is_another_cache_entry() -> None:
    # The default scope of a yield dependency is "request"; declared "function" it is a
    # different cache key, so the generator runs twice and the endpoint gets two sessions.
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/mixed-scope")

    assert response.status_code == 200
    assert events == [
        "get_session setup",
        "get_session setup",
        "endpoint",
        "get_session cleanup",
        "get_session cleanup",
    ]


async def test_security_scopes_are_part_of_the_key() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/two-scope-sets")

    assert response.status_code == 200
    assert events == [
        "get_principal ['read']",
        "get_principal ['write']",
        "endpoint",
    ]


def build_walked_app(events: list[str]) -> FastAPI:
    def checked(slug: str) -> str:
        events.append(f"validate X-Tenant={slug}")
        return slug

    async def get_tenant(x_tenant: Annotated[str, Header(), AfterValidator(checked)]) -> str:
        events.append("get_tenant")
        return x_tenant

    async def get_repository(tenant: Annotated[str, Depends(get_tenant)]) -> str:
        events.append("get_repository")
        return f"repository({tenant})"

    async def get_service(tenant: Annotated[str, Depends(get_tenant)]) -> str:
        events.append("get_service")
        return f"service({tenant})"

    app = FastAPI()

    @app.get("/walked")
    async def walked(
        repository: Annotated[str, Depends(get_repository)],
        service: Annotated[str, Depends(get_service)],
        tenant: Annotated[str, Depends(get_tenant)],
    ) -> list[str]:
        events.append("endpoint")
        return [repository, service, tenant]

    return app


async def test_a_cached_subtree_is_walked_again_but_not_called() -> None:
    events: list[str] = []
    async with client_for(build_walked_app(events)) as client:
        response = await client.get("/walked", headers={"X-Tenant": "acme"})

    assert response.json() == ["repository(acme)", "service(acme)", "acme"]
    # Three declarations of get_tenant: its header is validated three times, it is called once.
    assert events == [
        "validate X-Tenant=acme",
        "get_tenant",
        "get_repository",
        "validate X-Tenant=acme",
        "get_service",
        "validate X-Tenant=acme",
        "endpoint",
    ]


async def test_a_shared_node_with_an_invalid_input_is_reported_once_per_declaration() -> None:
    events: list[str] = []
    async with client_for(build_walked_app(events)) as client:
        response = await client.get("/walked")

    assert response.status_code == 422
    assert [(error["loc"], error["type"]) for error in response.json()["detail"]] == [
        (["header", "x-tenant"], "missing"),
        (["header", "x-tenant"], "missing"),
        (["header", "x-tenant"], "missing"),
    ]
    assert events == []
