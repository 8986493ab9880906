"""The OpenAPI document and the behaviour agree (app/http/openapi.py, app/http/problems.py): each
test is a failure schemathesis once found (tests/contract/), kept as a regression test."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def document(app_instance: FastAPI) -> dict[str, Any]:
    return app_instance.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_tag_and_route_name(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    update = document["paths"]["/api/v1/users/{user_id}"]["patch"]
    assert update["operationId"] == "users-update_user"


def test_every_problem_is_documented_as_problem_json_only(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/health/ready":  # readiness answers its report
                continue
            assert response["content"] == {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, f"{method} {path} {status}"
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_omittable_fields_are_not_documented_as_nullable(document: dict[str, Any]) -> None:
    update = document["components"]["schemas"]["UserUpdate"]["properties"]
    assert update["is_active"]["type"] == "boolean"
    assert "anyOf" not in update["is_active"]
    assert "default" not in update["is_active"]
    # demo:begin
    task_update = document["components"]["schemas"]["TaskUpdate"]["properties"]
    assert task_update["title"]["type"] == "string"
    assert "anyOf" not in task_update["title"]
    # Clearing the assignee is allowed, and documented so.
    assert {"type": "null"} in task_update["assignee_id"]["anyOf"]
    # demo:end


async def test_a_body_that_is_not_utf8_is_the_documented_422(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tenants", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert response.headers["content-type"] == PROBLEM_JSON
    assert body["errors"] == [
        {"loc": ["body"], "msg": "The body could not be decoded.", "type": "body_invalid"}
    ]


async def test_a_405_names_every_method_of_the_path(client: AsyncClient, acme: Org) -> None:
    response = await client.request("OPTIONS", "/api/v1/users", headers=acme.owner.headers)
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


async def test_patch_on_users_me_is_405_not_a_bad_id(client: AsyncClient, acme: Org) -> None:
    response = await client.patch("/api/v1/users/me", json={}, headers=acme.owner.headers)
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


async def test_a_null_for_an_omittable_field_is_refused(client: AsyncClient, acme: Org) -> None:
    response = await client.patch(
        f"/api/v1/users/{acme.member.user.id}", json={"role": None}, headers=acme.owner.headers
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "role"]


# demo:begin
async def test_an_empty_cursor_is_the_first_page(client: AsyncClient, acme: Org) -> None:
    """The documented cursor pattern allows the empty string; the service agrees."""
    response = await client.get("/api/v1/projects?cursor=", headers=acme.owner.headers)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [str(acme.project.id)]


def test_a_created_project_links_to_what_takes_its_id(document: dict[str, Any]) -> None:
    links = document["paths"]["/api/v1/projects"]["post"]["responses"]["201"]["links"]
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    assert {link["operationId"] for link in links.values()} <= ids
    assert links["create_tasks_in_bulk"]["parameters"] == {"project_id": "$response.body#/id"}


# demo:end
