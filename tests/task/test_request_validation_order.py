"""Where the body is checked relative to the dependency graph, on PATCH
/api/v1/projects/{project_id}/tasks/{task_id} (FastAPI 0.165, `get_request_handler`). A body sent
as JSON is read and parsed before any dependency runs, so malformed JSON is a 422 before
authentication, the role guard and the lookups: no session is even opened. Validating the parsed
body against `TaskUpdate` comes after every dependency, so a well-formed but invalid body gets
whatever the graph answers first (401, 403, 404). A body that is not declared as JSON is not
parsed up front at all."""

import uuid

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionFactory
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.demo import task_url
from tests.fixtures.problems import assert_problem, field_errors

MALFORMED = b'{"title": '  # JSON that ends in the middle: the decoder fails at position 10
INVALID = b'{"status": "finished"}'  # well-formed JSON, but not a TaskStatus
JSON = {"content-type": "application/json"}


def missing_task_url() -> str:
    return f"/api/v1/projects/{uuid.uuid4()}/tasks/{uuid.uuid4()}"


@pytest.fixture
def opened(app: FastAPI, session_factory: SessionFactory) -> list[AsyncSession]:
    """Every session `get_session` opens during the test (the first dependency with I/O)."""
    sessions: list[AsyncSession] = []

    def counting_factory() -> AsyncSession:
        session = session_factory()
        sessions.append(session)
        return session

    use_resources(app, session_factory=counting_factory)
    return sessions


async def test_malformed_json_is_422_before_authentication(
    client: AsyncClient, acme: Org, opened: list[AsyncSession]
) -> None:
    response = await client.patch(task_url(acme.task), content=MALFORMED, headers=JSON)

    problem = assert_problem(response, 422)
    assert field_errors(problem) == [(["body", 10], "json_invalid")]
    assert opened == []  # no dependency ran: not even the session was entered


async def test_malformed_json_is_422_before_the_role_guard_and_the_lookups(
    client: AsyncClient, acme: Org, opened: list[AsyncSession]
) -> None:
    # A viewer (403 with a valid body) on a task that does not exist (404 for a member).
    response = await client.patch(
        missing_task_url(), content=MALFORMED, headers={**JSON, **acme.viewer.headers}
    )

    assert field_errors(assert_problem(response, 422)) == [(["body", 10], "json_invalid")]
    assert opened == []


async def test_anonymous_with_an_invalid_body_is_401(
    client: AsyncClient, acme: Org, opened: list[AsyncSession]
) -> None:
    response = await client.patch(task_url(acme.task), content=INVALID, headers=JSON)

    assert assert_problem(response, 401)["type"].endswith("not-authenticated")
    # The graph was entered: the request context opens its unit of work, then authenticates.
    assert len(opened) == 1


async def test_an_invalid_body_is_checked_after_the_role_guard_and_the_lookups(
    client: AsyncClient, acme: Org
) -> None:
    as_viewer = await client.patch(
        task_url(acme.task), content=INVALID, headers={**JSON, **acme.viewer.headers}
    )
    on_a_missing_task = await client.patch(
        missing_task_url(), content=INVALID, headers={**JSON, **acme.member.headers}
    )
    as_member = await client.patch(
        task_url(acme.task), content=INVALID, headers={**JSON, **acme.member.headers}
    )

    assert assert_problem(as_viewer, 403)["type"].endswith("insufficient-role")
    # One query finds the task within its project: a missing project is a missing task.
    assert assert_problem(on_a_missing_task, 404)["type"].endswith("task-not-found")
    assert field_errors(assert_problem(as_member, 422)) == [(["body", "status"], "enum")]


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {}])
async def test_a_body_not_sent_as_json_is_not_parsed_before_authentication(
    client: AsyncClient, acme: Org, headers: dict[str, str]
) -> None:
    response = await client.patch(task_url(acme.task), content=MALFORMED, headers=headers)

    assert assert_problem(response, 401)["type"].endswith("not-authenticated")
