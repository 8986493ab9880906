"""The dependency-graph tool (app/cli/depgraph.py, `python -m app.cli depgraph`): the generated
docs/dependency-graph.md matches the code, the text tree shows each node once and marks later
occurrences as shared, the JSON parses, and the walker agrees with FastAPI's own cache keys and
sync/async/yield classification (so it shows what FastAPI will actually do)."""

import dataclasses
import difflib
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Security
from fastapi.dependencies import models as fastapi_models
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from typer.testing import CliRunner

from app.cli import depgraph
from app.cli.commands import cli

SIGNUP = "POST /api/v1/tenants"
LOGIN = "POST /api/v1/auth/token"  # its session is shared by the tenant lookup and the service
LOCATION = re.compile(r"(?P<file>[\w./-]+\.py):(?P<line>\d+)")
PARAM_LEAF = re.compile(r"─ \[\w+\] ")


@pytest.fixture(scope="module")
def graphs() -> list[depgraph.RouteGraph]:
    return depgraph.collect_routes(depgraph.build_app())


def test_generated_doc_is_current(graphs: list[depgraph.RouteGraph]) -> None:
    expected = depgraph.render_markdown(graphs)
    path = depgraph.DOC_PATH
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual != expected:
        diff = difflib.unified_diff(
            actual.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""
        )
        excerpt = "\n".join(list(diff)[:60])
        pytest.fail(
            "docs/dependency-graph.md is stale: the routes' dependencies changed. "
            f"Run `make depgraph` and commit the result.\n{excerpt}",
            pytrace=False,
        )


class TestTextTree:
    def test_session_is_resolved_once_and_then_shared(
        self, graphs: list[depgraph.RouteGraph]
    ) -> None:
        text = depgraph.render_text([depgraph.find_route(graphs, LOGIN)])
        session_lines = [line for line in text.splitlines() if ": get_session " in line]

        resolved = [line for line in session_lines if "shared" not in line]
        shared = [line for line in session_lines if "shared" in line]
        assert len(resolved) == 1, text
        assert "yield" in resolved[0]
        assert "scope=function" in resolved[0]
        assert shared, text
        assert all("[shared: resolved once, reused from above]" in line for line in shared)
        assert text.index(resolved[0]) < text.index(shared[0])

    def test_nodes_show_the_file_and_line_of_their_def(
        self, graphs: list[depgraph.RouteGraph]
    ) -> None:
        text = depgraph.render_text([depgraph.find_route(graphs, SIGNUP)])
        root, *children = text.splitlines()
        node_lines = [root, *(line for line in children if not PARAM_LEAF.search(line))]

        assert len(node_lines) > 2
        for line in node_lines:
            match = LOCATION.search(line)
            assert match, line
            source = depgraph.REPO_ROOT / match["file"]
            definition = source.read_text().splitlines()[int(match["line"]) - 1]
            assert re.match(r"\s*(async def|def|class) \w+", definition), line
            if ": get_session " in line:
                assert definition.startswith("async def get_session("), line


def test_json_parses_into_routes_with_node_trees(graphs: list[depgraph.RouteGraph]) -> None:
    routes = json.loads(depgraph.render_json(graphs))

    login = next(r for r in routes if r["path"] == "/api/v1/auth/token" and "POST" in r["methods"])
    assert login["endpoint"]["name"] == "issue_token"
    assert login["walked"] >= login["distinct"] > 0

    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node["dependencies"]:
            yield from walk(child)

    sessions = [node for node in walk(login["endpoint"]) if node["name"] == "get_session"]
    assert len(sessions) >= 2
    assert sessions[0]["shared"] is False
    assert all(node["shared"] for node in sessions[1:])
    assert sessions[0]["yields"] is True
    assert sessions[0]["scope"] == "function"
    forms = [node for node in walk(login["endpoint"]) if node["name"] == "get_login_form"]
    assert {"source": "body", "name": "username"} in forms[0]["params"]


def test_walker_agrees_with_fastapi_internals(graphs: list[depgraph.RouteGraph]) -> None:
    # FastAPI's helpers are private; if this fails after an upgrade, the walker needs updating.
    for graph in graphs:
        for node in graph.endpoint.walk():
            call = node.dependant.call
            assert node.key == fastapi_models._get_cache_key(dependant=node.dependant), node.name
            assert node.yields == (
                fastapi_models._is_gen_callable(call) or fastapi_models._is_async_gen_callable(call)
            ), node.name
            assert node.is_async == (
                fastapi_models._is_coroutine_callable(call)
                or fastapi_models._is_async_gen_callable(call)
            ), node.name


class TestCommand:
    def test_one_route_as_text(self) -> None:
        result = CliRunner().invoke(cli, ["depgraph", "--route", SIGNUP])

        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"{SIGNUP} -> sign_up ")
        assert ": get_session " in result.output

    def test_unknown_route_is_a_usage_error(self) -> None:
        result = CliRunner().invoke(cli, ["depgraph", "--route", "GET /nowhere"])

        assert result.exit_code == 2
        assert "No route 'GET /nowhere'" in result.output

    def test_output_file_is_the_markdown_document(
        self, tmp_path: Path, graphs: list[depgraph.RouteGraph]
    ) -> None:
        target = tmp_path / "graph.md"
        result = CliRunner().invoke(
            cli, ["depgraph", "--format", "mermaid", "--output", str(target)]
        )

        assert result.exit_code == 0, result.output
        assert target.read_text(encoding="utf-8") == depgraph.render_markdown(graphs)

    def test_json_format(self) -> None:
        result = CliRunner().invoke(cli, ["depgraph", "--format", "json", "--route", SIGNUP])

        assert result.exit_code == 0, result.output
        assert json.loads(result.output)[0]["path"] == "/api/v1/tenants"


# A small app exercising what the real one does not have (yet): security scopes, a guard made
# by a factory, a guard instance, a class, sync code, use_cache=False, `dependencies=[...]`.

oauth2 = OAuth2PasswordBearer(tokenUrl="/token", scopes={"me": "Profile", "items": "Items"})


async def get_principal(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]
) -> str:
    return token


async def get_active(principal: Annotated[str, Security(get_principal, scopes=["me"])]) -> str:
    return principal


def require_header(name: str) -> Any:
    async def guard(value: Annotated[str | None, Header(alias=name)] = None) -> None:
        if value is None:
            raise HTTPException(400, f"{name} is required")

    return guard


@dataclasses.dataclass(frozen=True)
class Limit:
    per_minute: int

    async def __call__(self) -> None:
        return None


class Pager:
    def __init__(self, limit: int = 10) -> None:
        self.limit = limit


def get_nonce() -> str:
    return "nonce"


async def get_connection() -> AsyncIterator[str]:
    yield "connection"


def build_sample_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(Limit(60))])
    router = APIRouter(prefix="/items", dependencies=[Depends(require_header("X-Tenant"))])

    @router.get("/{item_id}")
    async def read_item(
        item_id: int,
        principal: Annotated[str, Security(get_active, scopes=["items"])],
        pager: Annotated[Pager, Depends()],
        first: Annotated[str, Depends(get_nonce, use_cache=False)],
        second: Annotated[str, Depends(get_nonce, use_cache=False)],
        connection: Annotated[str, Depends(get_connection)],
        again: Annotated[str, Depends(get_connection)],
    ) -> int:
        return item_id

    app.include_router(router)
    return app


SAMPLE_TEXT = """\
GET /items/{item_id} -> build_sample_app.<locals>.read_item  <loc>  \
[async endpoint; walked 10 for 8 distinct]
├─ (dependencies=[...]): Limit(per_minute=60)  <loc>  [async, return, scope=None, cached]
├─ (dependencies=[...]): require_header.<locals>.guard (name='X-Tenant')  <loc>  \
[async, return, scope=None, cached]
│  └─ [header] X-Tenant
├─ principal: get_active  <loc>  [async, return, scope=None, cached, scopes=[items]]
│  └─ principal: get_principal  <loc>  [async, return, scope=None, cached, scopes=[items, me]]
│     ├─ token: OAuth2PasswordBearer()  <loc>  \
[async, return, scope=None, cached, scopes=[items, me], security scheme]
│     │  └─ [http_connection] request
│     └─ [security_scopes] security_scopes
├─ pager: Pager  <loc>  [sync (threadpool), class, scope=None, cached]
│  └─ [query] limit
├─ first: get_nonce  <loc>  [sync (threadpool), return, scope=None, not cached]
├─ second: get_nonce  <loc>  [sync (threadpool), return, scope=None, not cached]
├─ connection: get_connection  <loc>  [async, yield, scope=request (default), cached]
├─ again: get_connection  <loc>  [shared: resolved once, reused from above]
└─ [path] item_id
"""


def test_sample_tree_text() -> None:
    graphs = depgraph.collect_routes(build_sample_app())

    text = LOCATION.sub("<loc>", depgraph.render_text(graphs))

    assert text == SAMPLE_TEXT


def test_sample_mermaid_is_deterministic_with_distinct_ids_for_uncached_calls() -> None:
    first = depgraph.render_markdown(depgraph.collect_routes(build_sample_app()))
    second = depgraph.render_markdown(depgraph.collect_routes(build_sample_app()))

    assert first == second
    assert "d_get_nonce[" in first
    assert "d_get_nonce_2[" in first
    assert "endpoint -->|connection| d_get_connection" in first
    assert "endpoint -->|again| d_get_connection" in first
    assert "endpoint -.-> d_Limit_per_minute_60" in first
