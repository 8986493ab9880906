"""The demo's creates take `Idempotency-Key` (`Depends(idempotency)`): a project, a task and a
bulk of tasks, sent twice under one key, are created once, and the second answer is the first's,
its `ETag` included. How keys behave (another body, a failure, Redis down, the races...) is proven
on the users' create: tests/idempotency/."""

from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.project.models import Project
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, bulk_url, task_titles, tasks_url


async def project_names(factory: SessionFactory, org: Org) -> list[str]:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        return list(await session.scalars(select(Project.name).order_by(func.lower(Project.name))))


async def test_a_project_and_a_task_are_created_once_and_replayed_with_their_etag(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    for url, body in [(PROJECTS, {"name": "Launch"}), (tasks_url(acme.project), {"title": "T"})]:
        headers = {**acme.member.headers, "Idempotency-Key": f"once-{url}"}
        first = await client.post(url, json=body, headers=headers)
        again = await client.post(url, json=body, headers=headers)

        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert await project_names(session_factory, acme) == ["acme roadmap", "Launch"]
    assert await task_titles(session_factory, acme.tenant) == ["A task", "T"]


async def test_a_bulk_of_tasks_is_created_once(
    client: AsyncClient, acme: Org, session_factory: SessionFactory
) -> None:
    enabled = await client.put(
        "/api/v1/flags/bulk_tasks", json={"enabled": True}, headers=acme.admin.headers
    )
    assert enabled.status_code == 200, enabled.text
    headers = {**acme.member.headers, "Idempotency-Key": "bulk-once"}
    body = {"tasks": [{"title": "B1"}, {"title": "B2"}]}

    first = await client.post(bulk_url(acme.project), json=body, headers=headers)
    again = await client.post(bulk_url(acme.project), json=body, headers=headers)

    assert (first.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert await task_titles(session_factory, acme.tenant) == ["A task", "B1", "B2"]
