"""GET /api/v1/projects/{project_id}/tasks?status=...&assignee_id=...: the list filters, alone,
together and across pages, and their validation."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.task.models import Task, TaskStatus
from tests.fixtures.auth import Org
from tests.fixtures.demo import create_task, tasks_url
from tests.fixtures.problems import field_error


class TestTaskFilters:
    @pytest.fixture
    async def tasks(self, acme: Org, session_factory: SessionFactory) -> dict[str, Task]:
        """The fixture's task (todo, the member's) and three more, one minute apart."""
        base = datetime(2000, 1, 1, tzinfo=UTC)
        project, member, admin = acme.project, acme.member.user.id, acme.admin.user.id
        specs: dict[str, dict[str, Any]] = {
            "done-member": {"status": TaskStatus.DONE, "assignee_id": member},
            "done-nobody": {"status": TaskStatus.DONE},
            "doing-admin": {"status": TaskStatus.DOING, "assignee_id": admin},
        }
        created = {
            title: await create_task(
                session_factory,
                project,
                title=title,
                created_at=base + timedelta(minutes=i),
                **fields,
            )
            for i, (title, fields) in enumerate(specs.items())
        }
        return {"todo-member": acme.task, **created}

    async def list_titles(self, client: AsyncClient, acme: Org, **params: Any) -> list[str]:
        response = await client.get(
            tasks_url(acme.project), params=params, headers=acme.viewer.headers
        )
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    async def test_by_status(self, client: AsyncClient, acme: Org, tasks: dict[str, Task]) -> None:
        assert await self.list_titles(client, acme, status="done") == ["done-member", "done-nobody"]
        assert await self.list_titles(client, acme, status="doing") == ["doing-admin"]

    async def test_by_assignee(
        self, client: AsyncClient, acme: Org, tasks: dict[str, Task]
    ) -> None:
        titles = await self.list_titles(client, acme, assignee_id=str(acme.member.user.id))
        # The fixture's task was created now, after the dated ones (2000).
        assert titles == ["done-member", "A task"]

    async def test_by_status_and_assignee(
        self, client: AsyncClient, acme: Org, tasks: dict[str, Task]
    ) -> None:
        member = str(acme.member.user.id)
        assert await self.list_titles(client, acme, status="done", assignee_id=member) == [
            "done-member"
        ]
        assert await self.list_titles(client, acme, status="doing", assignee_id=member) == []

    async def test_assignee_of_another_tenant_matches_nothing(
        self, client: AsyncClient, acme: Org, globex: Org, tasks: dict[str, Task]
    ) -> None:
        titles = await self.list_titles(client, acme, assignee_id=str(globex.member.user.id))
        assert titles == []

    async def test_filtered_pages_walk_to_the_end(
        self, client: AsyncClient, acme: Org, tasks: dict[str, Task]
    ) -> None:
        first = await client.get(
            tasks_url(acme.project),
            params={"status": "done", "limit": 1},
            headers=acme.viewer.headers,
        )
        assert [t["title"] for t in first.json()["items"]] == ["done-member"]
        second = await client.get(
            tasks_url(acme.project),
            params={"status": "done", "limit": 1, "cursor": first.json()["next_cursor"]},
            headers=acme.viewer.headers,
        )
        assert [t["title"] for t in second.json()["items"]] == ["done-nobody"]
        assert second.json()["next_cursor"] is None

    @pytest.mark.parametrize(
        ("params", "loc", "error_type"),
        [
            ({"status": "finished"}, ["query", "status"], "enum"),
            ({"status": "DONE"}, ["query", "status"], "enum"),
            ({"assignee_id": "someone"}, ["query", "assignee_id"], "uuid_parsing"),
        ],
    )
    async def test_invalid_filter_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        params: dict[str, str],
        loc: list[str],
        error_type: str,
    ) -> None:
        response = await client.get(
            tasks_url(acme.project), params=params, headers=acme.viewer.headers
        )
        assert field_error(response) == (loc, error_type)
