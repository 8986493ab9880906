"""The walk budget: on every route, FastAPI visits at most twice as many dependency nodes per
request as the route has distinct dependencies (see "Called once, walked every time" in
docs/dependency-injection.md). The figures come from `app.cli.depgraph`; the last test checks
them against FastAPI's real walk of real requests."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.cli import depgraph
from tests.di.walk import counting_walk
from tests.fixtures.auth import Org

GRAPHS = depgraph.collect_routes(depgraph.build_app())


@pytest.mark.parametrize("graph", GRAPHS, ids=[graph.label for graph in GRAPHS])
def test_the_walk_stays_within_twice_the_distinct_dependencies(graph: depgraph.RouteGraph) -> None:
    print(f"{graph.label}: {graph.figures}")  # shown with -s, -rA, or on failure
    assert graph.walked <= 2 * graph.distinct, (
        f"{graph.label} walks {graph.walked} nodes for {graph.distinct} distinct dependencies: "
        "a dependency with a sub-tree is declared in too many places (run `make depgraph`)"
    )


def test_the_figures_table_lists_every_route() -> None:
    table = "\n".join(f"{graph.label}: {graph.figures}" for graph in GRAPHS)
    assert "GET /api/v1/users/me: walked 4 for 4 distinct" in table, table


async def test_the_figures_are_what_fastapi_walks_on_real_requests(
    app: FastAPI, client: AsyncClient, acme: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        ("GET", "/api/v1/users/me", "/api/v1/users/me", None, acme.member),
        (
            "PATCH",
            "/api/v1/users/{user_id}",
            f"/api/v1/users/{acme.viewer.user.id}",
            {"is_active": True},
            acme.admin,
        ),
        # demo:begin
        (
            "PATCH",
            "/api/v1/projects/{project_id}/tasks/{task_id}",
            f"/api/v1/projects/{acme.project.id}/tasks/{acme.task.id}",
            {"title": "walked"},
            acme.member,
        ),
        # demo:end
    ]
    for method, template, url, body, caller in requests:
        graph = depgraph.find_route(GRAPHS, f"{method} {template}")
        with counting_walk(monkeypatch) as walked:
            response = await client.request(method, url, json=body, headers=caller.headers)
        assert response.status_code == 200, response.text
        assert walked == [graph.walked], template
