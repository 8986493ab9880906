"""Cross-tenant matrix: for every tenant-scoped route with an id in its path, an admin of
globex using acme's ids gets 404 (never 403: other tenants' ids are not confirmed), and acme's
data is unchanged. New routes join the matrix by naming their path parameters in `IDS`; the routes
of a domain `new-domain` made join it through that domain's `SEED` (tests/fixtures/seeds.py)."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.main import create_app
from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem
from tests.fixtures.seeds import seeds
from tests.fixtures.settings import make_settings
from tests.security.test_route_contract import PUBLIC, api_routes
from tests.security.test_row_level_security import TENANT_OWNED

# How to find acme's id for each path parameter a tenant-scoped route may have.
IDS: dict[str, Callable[[Org], uuid.UUID]] = {
    "user_id": lambda org: org.member.user.id,
    # demo:begin
    "project_id": lambda org: org.project.id,
    "task_id": lambda org: org.task.id,
    # demo:end
}
# Bodies that would succeed for acme's own admin, so only the tenant wall can refuse them.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/users/{user_id}"): {"role": "viewer"},
    # demo:begin
    ("PATCH", "/api/v1/projects/{project_id}"): {"name": "renamed"},
    ("POST", "/api/v1/projects/{project_id}/tasks"): {"title": "planted"},
    ("POST", "/api/v1/projects/{project_id}/tasks:bulk"): {"tasks": [{"title": "planted"}]},
    ("PATCH", "/api/v1/projects/{project_id}/tasks/{task_id}"): {"status": "done"},
    # demo:end
}
# The generated domains: acme gets one row of each when a route names it.
SEEDS = {seed.path_parameter: seed for seed in seeds()}
BODIES |= {("PATCH", seed.item_path): seed.update for seed in SEEDS.values()}


def routes_with_ids(app: FastAPI) -> list[tuple[str, str]]:
    """Routes addressing a resource by id (`{..._id}`); a path naming a key of the caller's own
    tenant (`{key}`) addresses no other tenant's resource."""
    return [
        (method, path)
        for method, path, _ in api_routes(app)
        if "_id}" in path and (method, path) not in PUBLIC
    ]


ROUTES = routes_with_ids(create_app(make_settings()))


async def snapshot(factory: SessionFactory, org: Org) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every tenant-owned table that `org` can see."""
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        return {
            table: [
                tuple(row)
                for row in await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            ]
            for table in TENANT_OWNED
        }


def test_every_id_route_is_in_the_matrix() -> None:
    params = {
        part.strip("{}") for _, path in ROUTES for part in path.split("/") if part.startswith("{")
    }
    known = IDS.keys() | SEEDS.keys()
    assert params <= known, f"add providers for {params - known} to IDS"
    assert len(ROUTES) >= 2


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_other_tenant_ids_are_404_and_nothing_changes(
    client: AsyncClient,
    acme: Org,
    globex: Org,
    session_factory: SessionFactory,
    method: str,
    template: str,
) -> None:
    # demo:begin
    # Every feature on for the intruder: only the tenant wall may refuse.
    enabled = await client.put(
        "/api/v1/flags/bulk_tasks", json={"enabled": True}, headers=globex.admin.headers
    )
    assert enabled.status_code == 200
    # demo:end
    path = template
    for name, provider in IDS.items():
        path = path.replace("{" + name + "}", str(provider(acme)))
    for name, seed in SEEDS.items():
        if "{" + name + "}" in path:
            row = await seed.create(session_factory, acme.tenant)
            path = path.replace("{" + name + "}", str(row.id))
    before = await snapshot(session_factory, acme)

    response = await client.request(
        method, path, json=BODIES.get((method, template)), headers=globex.owner.headers
    )

    assert_problem(response, 404)
    assert await snapshot(session_factory, acme) == before
