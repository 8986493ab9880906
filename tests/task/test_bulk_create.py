"""POST /api/v1/projects/{project_id}/tasks:bulk, behind the `bulk_tasks` flag: hidden while the
flag is off, all or nothing (100 at most), roles and tenant isolation."""

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.task.models import Task
from tests.fixtures.auth import Org
from tests.fixtures.demo import bulk_url, task_titles
from tests.fixtures.problems import INVALID_ASSIGNEE, assert_problem, field_error
from tests.fixtures.rows import count


async def enable_bulk(client: AsyncClient, org: Org, enabled: bool = True) -> None:
    response = await client.put(
        "/api/v1/flags/bulk_tasks", json={"enabled": enabled}, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is enabled


class TestBulkCreate:
    async def test_flag_off_is_404_and_nothing_is_created(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.post(
            bulk_url(acme.project), json={"tasks": [{"title": "x"}]}, headers=acme.member.headers
        )
        unknown = await client.post("/api/v1/no/such/route", headers=acme.member.headers)
        problem = assert_problem(response, 404)
        # Exactly what an unknown path answers: nothing tells the route exists.
        assert [problem[k] for k in ("type", "title", "detail")] == [
            unknown.json()[k] for k in ("type", "title", "detail")
        ]
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_flag_on_creates_all_in_order(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await enable_bulk(client, acme)
        tasks = [
            {"title": "one"},
            {"title": "two", "status": "doing", "assignee_id": str(acme.admin.user.id)},
            {"title": "three", "due_date": "2027-05-01"},
        ]

        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )

        assert response.status_code == 201, response.text
        created = response.json()
        assert [t["title"] for t in created] == ["one", "two", "three"]
        assert [t["status"] for t in created] == ["todo", "doing", "todo"]
        assert [t["assignee_id"] for t in created] == [None, str(acme.admin.user.id), None]
        assert [t["due_date"] for t in created] == [None, None, "2027-05-01"]
        assert {t["project_id"] for t in created} == {str(acme.project.id)}
        assert {t["version"] for t in created} == {1}
        assert len({t["id"] for t in created}) == 3
        assert sorted(await task_titles(session_factory, acme.tenant)) == sorted(
            ["A task", "one", "two", "three"]
        )

    async def test_one_hundred_is_the_maximum(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await enable_bulk(client, acme)
        body = {"tasks": [{"title": f"t{i}"} for i in range(100)]}
        response = await client.post(bulk_url(acme.project), json=body, headers=acme.member.headers)
        assert response.status_code == 201
        assert len(response.json()) == 100
        assert await count(session_factory, acme.tenant, Task) == 101

    @pytest.mark.parametrize(("size", "error_type"), [(101, "too_long"), (0, "too_short")])
    async def test_outside_1_to_100_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        size: int,
        error_type: str,
    ) -> None:
        await enable_bulk(client, acme)
        body = {"tasks": [{"title": f"t{i}"} for i in range(size)]}
        response = await client.post(bulk_url(acme.project), json=body, headers=acme.member.headers)
        assert field_error(response) == (["body", "tasks"], error_type)
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_one_invalid_assignee_creates_none(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        await enable_bulk(client, acme)
        tasks = [
            {"title": "fine", "assignee_id": str(acme.member.user.id)},
            {"title": "also fine"},
            {"title": "outsider", "assignee_id": str(globex.member.user.id)},
            {"title": "never reached"},
        ]
        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )
        assert assert_problem(response, 422)["type"] == INVALID_ASSIGNEE
        assert await task_titles(session_factory, acme.tenant) == ["A task"]

    async def test_one_invalid_item_creates_none(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await enable_bulk(client, acme)
        tasks = [{"title": "fine"}, {"title": ""}]
        response = await client.post(
            bulk_url(acme.project), json={"tasks": tasks}, headers=acme.member.headers
        )
        assert field_error(response) == (["body", "tasks", 1, "title"], "string_too_short")
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await enable_bulk(client, acme)
        response = await client.post(
            bulk_url(acme.project), json={"tasks": [{"title": "x"}]}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await count(session_factory, acme.tenant, Task) == 1

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        await enable_bulk(client, acme)
        assert_problem(
            await client.post(bulk_url(acme.project), json={"tasks": [{"title": "x"}]}), 401
        )

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        # Both tenants have the flag on, so only the tenant wall can refuse.
        await enable_bulk(client, acme)
        await enable_bulk(client, globex)
        response = await client.post(
            bulk_url(acme.project),
            json={"tasks": [{"title": "Planted"}]},
            headers=globex.owner.headers,
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert await task_titles(session_factory, acme.tenant) == ["A task"]
        assert await task_titles(session_factory, globex.tenant) == ["A task"]
