"""`ProblemRoute`, the route class of every API router: the problems a route documents in OpenAPI
are derived from its dependency tree, never written by hand (hand-written lists drift).

Every callable in the tree (the endpoint, its dependencies and theirs, `dependencies=[...]`
entries) declares with `@raises(...)` (app/core/errors.py) the domain errors that reach the
caller through it, beside its code; an error class carries its status. Two problems come from
the framework instead: 422 when the route has any parameter or body to validate, and 413 when it
takes a body (the size limit of app/http/middleware.py). A route's own `responses=` entries win.
tests/http/test_routing.py checks every route of the app against its tree.
"""

from collections.abc import Callable, Iterator, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, get_parameterless_sub_dependant
from fastapi.routing import APIRoute

from app.core.errors import declared_errors
from app.http.problems import VALIDATION_FAILED, problem_responses


def _nodes(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _nodes(sub)


def route_problems(dependant: Dependant) -> dict[int, set[str]]:
    """Every status a route can answer with a problem, with the titles of its problem types:
    the errors declared anywhere in its tree, and the framework's own."""
    nodes = list(_nodes(dependant))
    problems: dict[int, set[str]] = {}
    for error in {error for node in nodes for error in declared_errors(node.call)}:
        problems.setdefault(error.status, set()).add(error.title)
    if any(_takes_input(node) for node in nodes):
        problems.setdefault(422, set()).add(VALIDATION_FAILED)
    if any(node.body_params for node in nodes):
        problems.setdefault(413, set()).add(HTTPStatus(413).phrase)
    return problems


def _takes_input(node: Dependant) -> bool:
    return bool(
        node.path_params
        or node.query_params
        or node.header_params
        or node.cookie_params
        or node.body_params
    )


class ProblemRoute(APIRoute):
    """An `APIRoute` whose `responses` also list every problem its dependency tree declares.

    The tree is read here, before FastAPI builds the route, as FastAPI will build it: the
    endpoint's parameters, after the route's (and its router's) `dependencies=[...]`.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        dependencies: Sequence[params.Depends] | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        tree = get_dependant(path=path, call=endpoint)
        tree.dependencies[:0] = [
            get_parameterless_sub_dependant(depends=depends, path=path)
            for depends in dependencies or ()
        ]
        derived = problem_responses(route_problems(tree))
        super().__init__(
            path,
            endpoint,
            dependencies=dependencies,
            responses=_merged(derived, responses or {}),
            **options,
        )


def _merged(
    derived: dict[int | str, dict[str, Any]], own: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """The route's own entries win, but a status both document keeps the problem's media type
    beside the route's (`/health/ready`'s 503 is its report, or a problem from the session)."""
    merged = {**derived, **own}
    for status in derived.keys() & own.keys():
        content = {**derived[status].get("content", {}), **own[status].get("content", {})}
        merged[status] = {**derived[status], **own[status], "content": content}
    return merged
