"""Keyset pagination does constant work per page on 100,000 rows: the plan is an index range scan
that reads `limit + 1` rows whether the page is the first or the last (shown with EXPLAIN
ANALYZE, not with timings)."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.core.config import Settings
from app.core.db import create_session_factory
from app.core.pagination import PageRequest, Position
from app.core.tenancy import bind_tenant
from app.task.models import TaskStatus
from app.task.repository import TaskRepository

ROWS = 100_000


async def plan(session: AsyncSession, statement: Select[Any]) -> dict[str, Any]:
    compiled = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    result = await session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}"))
    explained: dict[str, Any] = result.scalar_one()[0]["Plan"]
    return explained


@pytest.fixture(scope="module")
async def big_project(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[uuid.UUID, uuid.UUID]]:
    """100,000 tasks, committed and ANALYZEd like a production table (the planner needs real
    statistics), removed afterwards through the owner connection."""
    owner = create_async_engine(settings.database.owner_url)
    tenant_id, project_id = uuid.uuid4(), uuid.uuid4()
    async with owner.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'Big')"),
            {"id": tenant_id, "slug": f"big-{tenant_id.hex[:12]}"},
        )
        await connection.execute(
            text("INSERT INTO projects (id, tenant_id, name) VALUES (:id, :tenant, 'Big')"),
            {"id": project_id, "tenant": tenant_id},
        )
        await connection.execute(
            text(
                "INSERT INTO tasks (tenant_id, project_id, title, created_at) "
                "SELECT :tenant, :project, 'task ' || n, now() - make_interval(secs => :rows - n) "
                "FROM generate_series(1, :rows) AS n"
            ),
            {"tenant": tenant_id, "project": project_id, "rows": ROWS},
        )
    async with owner.begin() as connection:  # committed: statistics are transactional too
        await connection.execute(text("ANALYZE tasks"))
    yield tenant_id, project_id
    async with owner.begin() as connection:
        await connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
    await owner.dispose()


@pytest.mark.parametrize("filters", [{}, {"status": TaskStatus.TODO}], ids=["all", "by status"])
async def test_every_page_is_one_index_range_scan(
    engine: AsyncEngine, big_project: tuple[uuid.UUID, uuid.UUID], filters: dict[str, Any]
) -> None:
    tenant_id, project_id = big_project
    async with create_session_factory(engine)() as session:
        repository = TaskRepository(await bind_tenant(session, tenant_id), tenant_id)
        near_the_end = (
            await session.execute(
                text(
                    "SELECT created_at, id FROM tasks WHERE project_id = :p "
                    "ORDER BY created_at DESC, id DESC OFFSET 25 LIMIT 1"
                ),
                {"p": project_id},
            )
        ).one()
        pages = {
            "first page": PageRequest(limit=20),
            "page 4,999": PageRequest(limit=20, after=Position(*near_the_end)),
        }
        for name, page in pages.items():
            root = await plan(session, repository.list_statement(project_id, page, **filters))
            assert root["Node Type"] == "Limit", (name, root)
            [scan] = root["Plans"]
            if scan["Node Type"] == "Result":  # the row-level security policy's one-time check
                [scan] = scan["Plans"]
            assert scan["Node Type"] == "Index Scan", (name, scan["Node Type"])
            assert scan["Index Name"].startswith("ix_tasks_project_id_"), name
            assert scan["Actual Rows"] == 21, name  # limit + 1, not the rows before the cursor
