"""Nested dependencies resolve bottom-up and depth-first (FastAPI 0.165): a dependency's own
dependencies all run before it, so get_db -> get_repository -> get_service -> endpoint; siblings
run in declaration order, each subtree finished before the next sibling starts."""

from typing import Annotated

from fastapi import Depends, FastAPI

from tests.di.asgi import client_for


def build_app(events: list[str]) -> FastAPI:
    async def get_db() -> str:
        events.append("get_db")
        return "db"

    async def get_repository(db: Annotated[str, Depends(get_db)]) -> str:
        events.append("get_repository")
        return f"repository({db})"

    async def get_service(repository: Annotated[str, Depends(get_repository)]) -> str:
        events.append("get_service")
        return f"service({repository})"

    async def get_clock() -> str:
        events.append("get_clock")
        return "clock"

    async def get_audit(clock: Annotated[str, Depends(get_clock)]) -> str:
        events.append("get_audit")
        return f"audit({clock})"

    app = FastAPI()

    @app.get("/chain")
    async def chain(service: Annotated[str, Depends(get_service)]) -> dict[str, str]:
        events.append("endpoint")
        return {"service": service}

    @app.get("/siblings")
    async def siblings(
        service: Annotated[str, Depends(get_service)],
        audit: Annotated[str, Depends(get_audit)],
    ) -> dict[str, str]:
        events.append("endpoint")
        return {"service": service, "audit": audit}

    return app


async def test_the_deepest_dependency_runs_first_and_the_endpoint_last() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/chain")

    assert response.json() == {"service": "service(repository(db))"}
    assert events == ["get_db", "get_repository", "get_service", "endpoint"]


async def test_siblings_resolve_in_declaration_order_each_subtree_first() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/siblings")

    assert response.status_code == 200
    assert events == [
        "get_db",
        "get_repository",
        "get_service",
        "get_clock",
        "get_audit",
        "endpoint",
    ]
