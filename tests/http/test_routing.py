"""The problems each route documents in OpenAPI are the ones its code declares
(app/http/routing.py): every error declared with `@raises` anywhere in a route's dependency tree
(the endpoint included) is listed under its status, with the problem schema, and no problem
status is listed that nothing accounts for. A route whose router forgets `ProblemRoute`, or a
hand-written `responses=` that drifts, fails here."""

from collections.abc import Iterator

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.errors import ConflictError, NotFoundError, declared_errors, raises
from app.http.routing import ProblemRoute

# Problems answered by the framework rather than declared by code: request validation (any
# parameter or body) and the body size limit (any body).
VALIDATION, TOO_LARGE = 422, 413


def tree(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from tree(sub)


def declared_statuses(dependant: Dependant) -> set[int]:
    return {error.status for node in tree(dependant) for error in declared_errors(node.call)}


def framework_statuses(dependant: Dependant) -> set[int]:
    nodes = list(tree(dependant))
    params = any(
        n.path_params or n.query_params or n.header_params or n.cookie_params or n.body_params
        for n in nodes
    )
    body = any(n.body_params for n in nodes)
    return ({VALIDATION} if params else set()) | ({TOO_LARGE} if body else set())


def drift(app: FastAPI) -> list[str]:
    """What the OpenAPI document gets wrong about each route's problems, one line per error."""
    spec = app.openapi()
    found: list[str] = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        dependant = context.dependant
        assert dependant is not None
        declared = declared_statuses(dependant)
        accounted = declared | framework_statuses(dependant)
        for method in sorted(context.methods or ()):
            label = f"{method} {context.path_format}"
            responses = spec["paths"][context.path_format][method.lower()]["responses"]
            problems = {
                int(status)
                for status, response in responses.items()
                if "application/problem+json" in response.get("content", {})
            }
            undocumented, unaccounted = sorted(declared - problems), sorted(problems - accounted)
            found += [f"{label}: declares {s}, documents no problem" for s in undocumented]
            found += [f"{label}: documents {s}, nothing declares it" for s in unaccounted]
    return found


def test_every_route_documents_exactly_the_problems_its_tree_declares(
    app_instance: FastAPI,
) -> None:
    assert drift(app_instance) == []


class TestTheCheckCanFail:
    """The check above, on a small app: it finds a declared error a route does not document."""

    @staticmethod
    def app_with(router: APIRouter) -> FastAPI:
        @raises(ConflictError)
        async def claim() -> None:
            """Stands in for a dependency that raises a 409 (idempotency, say)."""

        @router.post("/things", dependencies=[Depends(claim)])
        @raises(NotFoundError)
        async def create_thing() -> None:
            """An endpoint whose service raises a 404."""

        app = FastAPI()
        app.include_router(router)
        return app

    def test_a_plain_router_documents_nothing_and_is_caught(self) -> None:
        app = self.app_with(APIRouter())

        assert drift(app) == [
            "POST /things: declares 404, documents no problem",
            "POST /things: declares 409, documents no problem",
        ]

    def test_a_problem_route_documents_the_dependency_and_the_endpoint(self) -> None:
        app = self.app_with(APIRouter(route_class=ProblemRoute))

        assert drift(app) == []
        responses = app.openapi()["paths"]["/things"]["post"]["responses"]
        assert {"404", "409"} <= set(responses)

    def test_a_hand_written_status_nothing_declares_is_caught(self) -> None:
        router = APIRouter(route_class=ProblemRoute)

        @router.get("/things", responses={412: {"content": {"application/problem+json": {}}}})
        async def list_things() -> None:
            """Documents a 412 that nothing in its tree can raise."""

        app = FastAPI()
        app.include_router(router)

        assert drift(app) == ["GET /things: documents 412, nothing declares it"]
