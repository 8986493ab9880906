"""The dependency graph of every route, read from FastAPI's own tree (`route.dependant`).

FastAPI builds one `Dependant` per route: the endpoint, with one sub-`Dependant` per `Depends`/
`Security` (route, router and app `dependencies=[...]` first, then the endpoint's parameters, in
order), each with its own `.dependencies`. This module walks that tree as FastAPI resolves it:
depth first, in declaration order, with the per-request cache. A node whose cache key (callable,
security scopes it uses, computed scope; see `fastapi.dependencies.models._get_cache_key`) was
already resolved earlier in the walk is reported as shared: FastAPI reuses its value instead of
calling it again. Its sub-tree is not repeated (FastAPI revisits it, but every cached node in it
is a cache hit too). Path, query, header, cookie and body parameters are leaves, not nodes.

Each route also gets two figures. FastAPI's `solve_dependencies` recurses into a dependency's
whole sub-tree wherever it is declared, and only then looks in the per-request cache: a shared
dependency is *called* once but *walked* at every occurrence. `walked` counts the nodes FastAPI
visits per request (every occurrence, sub-trees included); `distinct` counts the dependencies
(callables) it can call. `tests/cli/test_dependency_walk.py` keeps `walked <= 2 * distinct`.

`python -m app.cli depgraph` renders it as text, Mermaid (the Markdown of
`docs/dependency-graph.md`) or JSON. Building the app does no I/O: pools open in the lifespan.
"""

import enum
import functools
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.security.base import SecurityBase

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = REPO_ROOT / "docs" / "dependency-graph.md"

Scope = Literal["function", "request"]
CacheKey = tuple[Callable[..., Any], tuple[str, ...], str]


@dataclass(frozen=True)
class Param:
    """A leaf: a value FastAPI takes from the request, not from a dependency."""

    source: str  # path, query, header, cookie, body, or request/response/... for special params
    name: str


@dataclass
class Node:
    """One occurrence of a callable in a route's tree (the endpoint is the root)."""

    name: str  # qualified name, with closure values for factory-made guards
    module: str
    location: str  # file:line, relative to the repo root (or to site-packages)
    param: str | None  # the parameter it is injected as; None for `dependencies=[...]` entries
    is_async: bool
    yields: bool
    is_class: bool
    declared_scope: Scope | None
    scope: Scope | None  # as FastAPI computes it: declared, else "request" for a yield
    use_cache: bool
    own_scopes: list[str]
    security_scopes: list[str]  # the union along the path, as `SecurityScopes` receives it
    max_concurrency: int | None
    is_security_scheme: bool
    shared: bool  # an earlier occurrence with the same cache key was resolved: reused
    key: CacheKey = field(repr=False, compare=False)
    dependant: Dependant = field(repr=False, compare=False)  # FastAPI's node, for tools
    params: list[Param] = field(default_factory=list)
    dependencies: list["Node"] = field(default_factory=list)

    @property
    def runs_in_threadpool(self) -> bool:
        return not self.is_async

    def attributes(self) -> list[str]:
        kind = "async" if self.is_async else "sync (threadpool)"
        returns = "class" if self.is_class else ("yield" if self.yields else "return")
        if self.scope is None:
            scope = "scope=None"
        elif self.declared_scope is None:
            scope = f"scope={self.scope} (default)"
        else:
            scope = f"scope={self.scope}"
        attributes = [kind, returns, scope, "cached" if self.use_cache else "not cached"]
        if self.security_scopes:
            attributes.append("scopes=[" + ", ".join(self.security_scopes) + "]")
        if self.max_concurrency is not None:
            attributes.append(f"max_concurrency={self.max_concurrency}")
        if self.is_security_scheme:
            attributes.append("security scheme")
        return attributes

    def walk(self) -> Iterator["Node"]:
        yield self
        for child in self.dependencies:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "location": self.location,
            "param": self.param,
            "is_async": self.is_async,
            "yields": self.yields,
            "is_class": self.is_class,
            "runs_in_threadpool": self.runs_in_threadpool,
            "declared_scope": self.declared_scope,
            "scope": self.scope,
            "use_cache": self.use_cache,
            "own_scopes": self.own_scopes,
            "security_scopes": self.security_scopes,
            "max_concurrency": self.max_concurrency,
            "is_security_scheme": self.is_security_scheme,
            "shared": self.shared,
            "params": [{"source": p.source, "name": p.name} for p in self.params],
            "dependencies": [child.to_dict() for child in self.dependencies],
        }


@dataclass
class RouteGraph:
    methods: tuple[str, ...]
    path: str
    endpoint: Node
    walked: int  # nodes FastAPI's walk visits per request: every occurrence, sub-trees included
    distinct: int  # distinct dependencies (callables) in the tree

    @property
    def label(self) -> str:
        return f"{','.join(self.methods)} {self.path}"

    @property
    def figures(self) -> str:
        return f"walked {self.walked} for {self.distinct} distinct"

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "path": self.path,
            "walked": self.walked,
            "distinct": self.distinct,
            "endpoint": self.endpoint.to_dict(),
        }


def walked_nodes(dependant: Dependant) -> int:
    """How many dependencies `solve_dependencies` visits for this tree on each request: every
    occurrence of every dependency, its sub-tree included, cached or not (the endpoint, the
    root, is not counted)."""
    return sum(1 + walked_nodes(sub) for sub in dependant.dependencies)


def distinct_dependencies(dependant: Dependant) -> int:
    """How many different callables the tree can call (each at most once per cache key)."""
    calls: set[Callable[..., Any]] = set()

    def visit(node: Dependant) -> None:
        for sub in node.dependencies:
            calls.add(_call(sub))
            visit(sub)

    visit(dependant)
    return len(calls)


# --- building the graph -----------------------------------------------------------------------


def build_app() -> FastAPI:
    """The app exactly as `app.main.create_app()` builds it from the environment."""
    # Imported here, so that the CLI can set its defaults (APP_ENV) before settings are read.
    from app.main import create_app

    return create_app()


def collect_routes(app: FastAPI) -> list[RouteGraph]:
    """Every HTTP and WebSocket route FastAPI serves, sorted by path then methods.

    `app.routes` holds lazily included routers; `iter_route_contexts` (what FastAPI's OpenAPI
    generation uses) yields each effective route with its prefix and inherited dependencies.
    """
    graphs: list[RouteGraph] = []
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if isinstance(original, APIRoute):
            methods = tuple(sorted(context.methods or ()))
        elif isinstance(original, APIWebSocketRoute):
            methods = ("WEBSOCKET",)
        else:
            continue
        dependant = cast(Dependant, context.dependant)
        path = cast(str, context.path_format)
        graphs.append(
            RouteGraph(
                methods,
                path,
                _Walker().endpoint(dependant),
                walked=walked_nodes(dependant),
                distinct=distinct_dependencies(dependant),
            )
        )
    return sorted(graphs, key=lambda graph: (graph.path, graph.methods))


def find_route(graphs: Sequence[RouteGraph], spec: str) -> RouteGraph:
    """The route named by "METHOD PATH" (e.g. "POST /api/v1/tenants"); LookupError otherwise."""
    method, _, path = spec.strip().partition(" ")
    for graph in graphs:
        if graph.path == path.strip() and method.upper() in graph.methods:
            return graph
    known = "\n".join(f"  {graph.label}" for graph in graphs)
    raise LookupError(f"No route {spec!r}. Known routes:\n{known}")


class _Walker:
    """One route's walk; `seen` plays the part of FastAPI's per-request dependency cache."""

    def __init__(self) -> None:
        self.seen: set[CacheKey] = set()
        self.uses_scopes_memo: dict[int, bool] = {}

    def endpoint(self, dependant: Dependant) -> Node:
        return self.node(dependant, param=None, shared=False)

    def node(self, dependant: Dependant, *, param: str | None, shared: bool) -> Node:
        call = _call(dependant)
        target, name, is_class = _describe(call)
        yields = inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target)
        is_async = not is_class and (
            inspect.isasyncgenfunction(target) or inspect.iscoroutinefunction(target)
        )
        node = Node(
            name=name,
            module=getattr(target, "__module__", None) or type(call).__module__,
            location=_location(target),
            param=param,
            is_async=is_async,
            yields=yields,
            is_class=is_class,
            declared_scope=dependant.scope,
            scope=_computed_scope(dependant, yields=yields),
            use_cache=dependant.use_cache,
            own_scopes=list(dependant.own_oauth_scopes or []),
            security_scopes=_oauth_scopes(dependant),
            max_concurrency=(
                dependant.concurrency.max_concurrency if dependant.concurrency else None
            ),
            is_security_scheme=isinstance(_unwrap(call), SecurityBase),
            shared=shared,
            key=self.cache_key(dependant, yields=yields),
            dependant=dependant,
        )
        if shared:
            return node
        node.params = _params(dependant)
        for sub in dependant.dependencies:
            key = self.cache_key(sub)
            node.dependencies.append(
                self.node(sub, param=sub.name, shared=sub.use_cache and key in self.seen)
            )
            self.seen.add(key)
        return node

    def cache_key(self, dependant: Dependant, *, yields: bool | None = None) -> CacheKey:
        """FastAPI's per-request cache key for this dependant (its `_get_cache_key`)."""
        if yields is None:
            target = _describe(_call(dependant))[0]
            yields = inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target)
        scopes = tuple(sorted(set(_oauth_scopes(dependant)))) if self.uses_scopes(dependant) else ()
        return (_call(dependant), scopes, _computed_scope(dependant, yields=yields) or "")

    def uses_scopes(self, dependant: Dependant) -> bool:
        memo = self.uses_scopes_memo.get(id(dependant))
        if memo is not None:
            return memo
        result = bool(
            dependant.own_oauth_scopes
            or dependant.security_scopes_param_name is not None
            or isinstance(_unwrap(_call(dependant)), SecurityBase)
            or any(self.uses_scopes(sub) for sub in dependant.dependencies)
        )
        self.uses_scopes_memo[id(dependant)] = result
        return result


def _call(dependant: Dependant) -> Callable[..., Any]:
    if dependant.call is None:  # only FastAPI's internal placeholders have no call
        raise ValueError(f"Dependant without a callable at {dependant.path}")
    return dependant.call


def _unwrap(call: Callable[..., Any]) -> Any:
    inner: Any = call
    while isinstance(inner, functools.partial):
        inner = inner.func
    return inspect.unwrap(inner)


def _describe(call: Callable[..., Any]) -> tuple[Any, str, bool]:
    """(the code object's owner that actually runs, a display name, whether it is a class)."""
    inner = _unwrap(call)
    if inspect.isclass(inner):
        return inner, inner.__qualname__, True
    if inspect.isroutine(inner):
        return inner, inner.__qualname__ + _closure_suffix(inner), False
    # A callable instance (a security scheme, a guard object): its class's __call__ runs.
    cls = type(inner)
    class_repr: object = cls.__repr__  # object's default repr carries an address: not stable
    has_repr = class_repr is not object.__repr__ and not isinstance(inner, SecurityBase)
    name = repr(inner) if has_repr else f"{cls.__qualname__}()"
    return cls.__call__, name, False


def _closure_suffix(function: Any) -> str:
    """`(role=Role.ADMIN)` for a closure made by a factory, so two guards read differently."""
    try:
        nonlocals = inspect.getclosurevars(function).nonlocals
    except (TypeError, ValueError):
        return ""
    shown = [
        f"{name}={_short(value)}"
        for name, value in sorted(nonlocals.items())
        if isinstance(value, str | int | float | bool | enum.Enum) or value is None
    ]
    return f" ({', '.join(shown)})" if shown else ""


def _short(value: object) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


_DEFINITION = re.compile(r"\s*(async\s+def|def|class)\s")


def _location(target: Any) -> str:
    """`file:line` of the `def`/`class` line (after any decorators)."""
    try:
        source = inspect.getsourcefile(target)
        lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return "?"
    if source is None:
        return "?"
    offset = next((i for i, text in enumerate(lines) if _DEFINITION.match(text)), 0)
    return f"{_display_path(Path(source))}:{first + offset}"


def _display_path(path: Path) -> str:
    resolved = path.resolve()
    if resolved.is_relative_to(REPO_ROOT) and ".venv" not in resolved.parts:
        return resolved.relative_to(REPO_ROOT).as_posix()
    # Outside the repo (FastAPI's own security schemes...): relative to its sys.path entry.
    entries = sorted((Path(entry).resolve() for entry in sys.path if entry), key=str, reverse=True)
    for entry in entries:
        if resolved.is_relative_to(entry) and entry != REPO_ROOT:
            return resolved.relative_to(entry).as_posix()
    return resolved.name


def _computed_scope(dependant: Dependant, *, yields: bool) -> Scope | None:
    if dependant.scope:
        return dependant.scope
    return "request" if yields else None


def _oauth_scopes(dependant: Dependant) -> list[str]:
    scopes = list(dependant.parent_oauth_scopes or [])
    for scope in dependant.own_oauth_scopes or []:
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def _params(dependant: Dependant) -> list[Param]:
    params = [
        Param(source, model_field.alias)
        for source, fields in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
            ("cookie", dependant.cookie_params),
            ("body", dependant.body_params),
        )
        for model_field in fields
    ]
    special = (
        ("request", dependant.request_param_name),
        ("websocket", dependant.websocket_param_name),
        ("http_connection", dependant.http_connection_param_name),
        ("response", dependant.response_param_name),
        ("background_tasks", dependant.background_tasks_param_name),
        ("security_scopes", dependant.security_scopes_param_name),
    )
    params.extend(Param(source, name) for source, name in special if name is not None)
    return params


# --- rendering ----------------------------------------------------------------------------------


def render_text(graphs: Sequence[RouteGraph]) -> str:
    """An indented tree per route."""
    blocks: list[str] = []
    for graph in graphs:
        root = graph.endpoint
        lines = [
            f"{graph.label} -> {root.name}  {root.location}  [{_endpoint_attributes(root)}; "
            f"{graph.figures}]"
        ]
        lines.extend(_text_children(root, prefix=""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _endpoint_attributes(node: Node) -> str:
    return ("async" if node.is_async else "sync (threadpool)") + " endpoint"


def _text_children(node: Node, *, prefix: str) -> Iterator[str]:
    entries: list[Node | Param] = [*node.dependencies, *node.params]
    for index, entry in enumerate(entries):
        last = index == len(entries) - 1
        branch, extension = ("└─ ", "   ") if last else ("├─ ", "│  ")
        if isinstance(entry, Param):
            yield f"{prefix}{branch}[{entry.source}] {entry.name}"
            continue
        head = f"{prefix}{branch}{entry.param or '(dependencies=[...])'}: {entry.name}"
        if entry.shared:
            yield f"{head}  {entry.location}  [shared: resolved once, reused from above]"
            continue
        yield f"{head}  {entry.location}  [{', '.join(entry.attributes())}]"
        yield from _text_children(entry, prefix=prefix + extension)


def render_json(graphs: Sequence[RouteGraph]) -> str:
    return json.dumps([graph.to_dict() for graph in graphs], indent=2) + "\n"


MARKDOWN_HEADER = """\
# Dependency graph

Generated from FastAPI's own dependency tree of every route (`route.dependant`) by
[`app/cli/depgraph.py`](../app/cli/depgraph.py). Do not edit it by hand: regenerate it with

```bash
make depgraph
```

`tests/cli/test_depgraph.py` fails when this file no longer matches the code.

**Walked and distinct.** FastAPI's `solve_dependencies` recurses into a dependency's whole
sub-tree wherever the dependency is declared, and only then finds its value in the per-request
cache: a shared dependency is *called once but walked every time*. So each route shows two
figures: the nodes FastAPI visits per request (`walked`, every occurrence with its sub-tree) and
the dependencies it can call (`distinct`). The graph is shaped to keep them close: the deep work
is one node (`get_request_context`) whose own sub-tree is a single leaf, and
`tests/cli/test_dependency_walk.py` fails when a route walks more than twice its distinct
dependencies. See "Called once, walked every time" in
[the DI guide](dependency-injection.md#called-once-walked-every-time).

How to read a chart: `A --> B` means A declares `Depends(B)`, so B is resolved first; a dotted
arrow is a `dependencies=[...]` entry (run, value unused); the arrow's label is the parameter.
A node with several arrows into it is resolved once per request (the per-request cache). Each
node gives its `file:line`; `async`, or `sync`, which FastAPI runs in a worker thread; `return`,
`yield` or `class`; and its scope: the code after a `yield` runs before the response is sent
with `scope=function`, after it with `scope=request` (the default). The text form of the same
trees: `uv run python -m app.cli depgraph`.
"""


def render_markdown(graphs: Sequence[RouteGraph]) -> str:
    """The document `docs/dependency-graph.md`: one Mermaid flowchart per route."""
    table = ["| route | walked | distinct |", "|---|---:|---:|"]
    table.extend(f"| `{graph.label}` | {graph.walked} | {graph.distinct} |" for graph in graphs)
    sections = [MARKDOWN_HEADER, "\n".join(table) + "\n"]
    for graph in graphs:
        sections.append(
            f"## `{graph.label}`\n\n{graph.figures.capitalize()} dependencies per request.\n\n"
            f"```mermaid\n{render_mermaid(graph)}```\n"
        )
    return "\n".join(sections)


def render_mermaid(graph: RouteGraph) -> str:
    """One `flowchart` with stable ids (from qualified names, numbered on collision)."""
    ids = _MermaidIds()
    nodes: list[str] = []
    edges: list[str] = []
    incoming: dict[str, int] = {}

    def visit(node: Node, node_id: str) -> None:
        for child in node.dependencies:
            child_id = ids.for_node(child)
            arrow = "-.->" if child.param is None else "-->"
            label = f"|{_mermaid_text(child.param)}|" if child.param else ""
            edge = f"  {node_id} {arrow}{label} {child_id}"
            if edge not in edges:
                edges.append(edge)
                incoming[child_id] = incoming.get(child_id, 0) + 1
            if not child.shared:
                nodes.append(child_id)
                node_labels[child_id] = child
                visit(child, child_id)

    node_labels: dict[str, Node] = {}
    visit(graph.endpoint, "endpoint")

    root = graph.endpoint
    lines = [
        "flowchart TD",
        f'  endpoint["{_mermaid_text(root.name)}<br/>{root.location}<br/>'
        f'{_endpoint_attributes(root)}"]',
    ]
    for node_id in nodes:
        node = node_labels[node_id]
        text = [node.name, node.location, " · ".join(node.attributes())]
        if incoming.get(node_id, 0) > 1:
            text.append(f"shared by {incoming[node_id]}: resolved once")
        label = "<br/>".join(_mermaid_text(part) for part in text)
        lines.append(f'  {node_id}["{label}"]')
    lines.extend(edges)
    yields = [node_id for node_id in nodes if node_labels[node_id].yields]
    if yields:
        lines.append("  classDef yields stroke-width:3px")
        lines.append(f"  class {','.join(yields)} yields")
    return "\n".join(lines) + "\n"


class _MermaidIds:
    def __init__(self) -> None:
        self.by_key: dict[CacheKey, str] = {}
        self.used: set[str] = {"endpoint"}

    def for_node(self, node: Node) -> str:
        if node.use_cache and node.key in self.by_key:
            return self.by_key[node.key]
        base = "d_" + re.sub(r"[^0-9A-Za-z]+", "_", node.name.split(" (")[0]).strip("_")
        candidate, number = base, 1
        while candidate in self.used:
            number += 1
            candidate = f"{base}_{number}"
        self.used.add(candidate)
        self.by_key.setdefault(node.key, candidate)
        return candidate


def _mermaid_text(text: str) -> str:
    """Mermaid entity codes for the characters that would end or confuse a quoted label."""
    replacements = {"&": "#38;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;"}
    return "".join(replacements.get(char, char) for char in text)
