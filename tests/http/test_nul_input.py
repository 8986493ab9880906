"""Item 6 of issue 10: a NUL character (U+0000) in any string a request carries is a 422.

PostgreSQL refuses 0x00 in text, so a NUL that reaches a query is a 500, and it was reachable
without authentication (the login form's username, signup's name). `Text` and `SecretText`
(app/http/schemas.py) refuse it at the edge. The first test walks every route of the app, so a new
field or parameter that forgets the type fails here; the others show the 422 over HTTP.
"""

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.main import create_app
from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem
from tests.fixtures.settings import make_settings

# Each would pass the field's other rules if it had no NUL: long enough, an email's shape, a
# slug's letters. Every one must be refused by every string field.
WITH_NUL = [
    "\x00",
    "a\x00",
    "acme\x00",
    "user\x00@example.com",
    "correct horse battery\x00staple",
    "a" * 24 + "\x00",
]


def leaves(
    annotation: Any, metadata: list[Any], where: str
) -> Iterator[tuple[str, TypeAdapter[Any]]]:
    """A validator for each scalar field reachable from `annotation` (models and lists opened)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            if argument is not type(None):
                inner_metadata = metadata if origin is not list else []
                yield from leaves(argument, inner_metadata, where)
        if origin is not list:
            yield where, TypeAdapter(Annotated[(annotation, *metadata)] if metadata else annotation)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from leaves(field.annotation, list(field.metadata), f"{where}.{name}")
        return
    yield where, TypeAdapter(Annotated[(annotation, *metadata)] if metadata else annotation)


def request_fields(dependant: Dependant, route: str) -> Iterator[tuple[str, TypeAdapter[Any]]]:
    for kind in ("path_params", "query_params", "header_params", "cookie_params", "body_params"):
        for field in getattr(dependant, kind):
            info = field.field_info
            yield from leaves(info.annotation, list(info.metadata), f"{route} {field.alias}")
    for sub in dependant.dependencies:
        yield from request_fields(sub, route)


def all_request_fields(app: FastAPI) -> dict[str, TypeAdapter[Any]]:
    found: dict[str, TypeAdapter[Any]] = {}
    for context in iter_route_contexts(app.routes):  # as test_route_contract.py walks them
        if isinstance(context.original_route, APIRoute):
            name = f"{sorted(context.methods or ())[0]} {context.path_format}"
            found.update(request_fields(context.dependant, name))
    return found


FIELDS = all_request_fields(create_app(make_settings()))


def accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def test_item6_the_walk_finds_the_inputs_of_every_kind() -> None:
    assert {
        "POST /api/v1/auth/token username",  # form, no authentication
        "POST /api/v1/auth/token X-Tenant",  # header, no authentication
        "POST /api/v1/tenants body.name",  # body, no authentication
        "POST /api/v1/tenants body.password",
        "POST /api/v1/users body.full_name",  # body, authenticated
        # demo:begin
        "POST /api/v1/projects/{project_id}/tasks:bulk body.tasks.title",  # a list of models
        "GET /api/v1/projects cursor",  # query
        "PUT /api/v1/flags/{key} key",  # path
        # demo:end
    } <= set(FIELDS)


def test_item6_every_request_string_refuses_nul() -> None:
    accepting = sorted(
        f"{name}: {value!r}"
        for name, adapter in FIELDS.items()
        for value in WITH_NUL
        if accepts(adapter, value)
    )
    assert accepting == []


class TestItem6NulIsA422:
    async def test_item6_nul_in_login_username_is_422(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": "owner@acme.example.com\x00", "password": "whatever-it-is"},
            headers={"X-Tenant": "acme"},
        )
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "username"]

    async def test_item6_nul_in_signup_name_is_422(self, client: AsyncClient) -> None:
        response = await client.post(
            "/api/v1/tenants",
            json={
                "name": "Evil\x00Corp",
                "slug": "evil-corp",
                "email": "owner@evil.example.com",
                "password": "correct horse battery staple",
                "full_name": "Eve",
            },
        )
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "name"]

    async def test_item6_nul_in_a_users_name_is_422(self, client: AsyncClient, acme: Org) -> None:
        body = {"email": "new@acme.example.com", "password": "correct horse battery staple"}
        response = await client.post(
            "/api/v1/users", json={**body, "full_name": "a\x00b"}, headers=acme.admin.headers
        )
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "full_name"]

    async def test_item6_nul_in_the_tenant_header_is_422(self, client: AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": "owner@acme.example.com", "password": "whatever-it-is"},
            headers={"X-Tenant": "acme\x00"},
        )
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["header", "X-Tenant"]

    # demo:begin
    async def test_item6_nul_in_the_cursor_is_422(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(
            "/api/v1/projects", params={"cursor": "a\x00b"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["query", "cursor"]

    # demo:end


@pytest.mark.parametrize("length", [201])
async def test_length_limits_keep_their_error_type(
    client: AsyncClient, acme: Org, length: int
) -> None:
    # Text adds a pattern, not a validator function: a too-long name is still `string_too_long`.
    body = {"email": "new@acme.example.com", "password": "correct horse battery staple"}
    response = await client.post(
        "/api/v1/users", json={**body, "full_name": "n" * length}, headers=acme.admin.headers
    )
    assert assert_problem(response, 422)["errors"][0]["type"] == "string_too_long"
