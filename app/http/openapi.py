"""The OpenAPI document as a contract a client can be generated from.

Three things FastAPI's defaults get wrong for a client generator, set right here, once:
- operation ids: FastAPI's (`update_user_api_v1_users__user_id__patch`) become unusable names
  in a generated client; ours are `<tag>-<route name>` (`users-update_user`);
- error media type: every error is served as `application/problem+json` (app/http/problems.py),
  so that is where the document puts the problem schema, and nowhere else: a generator that
  found it under `application/json` would parse every error into nothing;
- links (`links_to`): which operations take the id a response returns, so a client (and
  schemathesis' stateful phase) can follow a created resource.

tests/contract/ proves the document against the running service (schemathesis) and generates a
client from it.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.http.problems import PROBLEM_MEDIA_TYPE


def operation_id(route: APIRoute) -> str:
    """`<first tag>-<route name>`: the official template's scheme, stable and readable."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def links_to(**targets: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links for a success response: `name=(operationId, {parameter: expression})`.

    links_to(update=("users-update_user", {"user_id": "$response.body#/id"}))
    """
    return {
        "links": {
            name: {"operationId": operation, "parameters": parameters}
            for name, (operation, parameters) in targets.items()
        }
    }


_PROBLEM = "#/components/schemas/Problem"
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _problems_as_problem_json(document: dict[str, Any]) -> None:
    """Each problem's schema under `application/problem+json`, the type it is served as (and
    FastAPI's own 422 schema, where a route kept it, replaced by the one actually served)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                schema = content.get("application/json", {}).get("schema", {})
                reference = schema.get("$ref")
                if reference in (_PROBLEM, _FASTAPI_422):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM}}}
                elif PROBLEM_MEDIA_TYPE in content:  # a problem beside the route's own body
                    content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": _PROBLEM}}
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install_openapi(app: FastAPI) -> None:
    """Post-process FastAPI's document once, when it is first generated."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _problems_as_problem_json(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
