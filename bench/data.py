"""The benchmark's data set: a database of its own, migrated like production, filled in bulk.

One tenant ("bench") has the caller (a member), a project with `tasks` tasks (100,000 by
default) for the list scenarios, and an empty "inbox" project the create scenario writes to.
Two other tenants hold rows of their own, so the tenant filter and row-level security have rows
to leave out. Everything is written as the owner (which bypasses RLS) with generate_series, so a
fresh data set takes seconds; every run starts from a fresh one.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis

from app.auth.service import DENYLIST_SINCE
from app.core.db import create_database_if_missing
from app.core.pagination import CursorCodec, Position
from app.core.security import JWTCodec
from bench.settings import BenchSettings, asyncpg_dsn

ROOT = Path(__file__).resolve().parents[1]
BENCH_TASKS = 100_000
# The deep page starts this many tasks before the end of the big project.
DEEP_OFFSET_FROM_END = 100
# Not a usable password hash: nobody logs in during the benchmark.
NO_LOGIN = "!bench-no-login"
# Redis keys the bench's servers write, deleted before each run (and only those).
BENCH_KEY_PATTERNS = ("cache:*", "baseline:*", "events:*", "denylist:*")


@dataclass(frozen=True, slots=True)
class BenchData:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    inbox_id: uuid.UUID
    token: str
    deep_cursor: str
    tasks: int


def migrate(bench: BenchSettings) -> None:
    """`alembic upgrade heads` as the owner (which also creates the app's login role if needed)."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["settings"] = bench.app_settings()
    config.attributes["configure_logger"] = False
    command.upgrade(config, "heads")


async def fill(bench: BenchSettings, *, tasks: int = BENCH_TASKS) -> BenchData:
    """Empty the bench database's tenants (and everything they own) and write the data set."""
    tenant_id, user_id, project_id, inbox_id = (uuid.uuid4() for _ in range(4))
    others = [(uuid.uuid4(), f"other-{n}") for n in (1, 2)]
    start = datetime.now(UTC) - timedelta(days=30)
    connection = await asyncpg.connect(asyncpg_dsn(bench.database_owner_url))
    try:
        async with connection.transaction():
            await connection.execute("TRUNCATE tenants CASCADE")
            await connection.executemany(
                "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)",
                [(tenant_id, "bench", "Bench"), *((i, s, s.title()) for i, s in others)],
            )
            await connection.execute(
                "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
                "VALUES ($1, $2, 'member@bench.example.com', $3, 'Bench Member', 'member')",
                user_id,
                tenant_id,
                NO_LOGIN,
            )
            # More users in every tenant: the caller is found by key among others.
            await connection.execute(
                "INSERT INTO users (tenant_id, email, password_hash, full_name, role) "
                "SELECT t.id, 'user' || g || '@' || t.slug || '.example.com', $1, "
                "'User ' || g, 'viewer' FROM tenants t, generate_series(1, 50) AS g",
                NO_LOGIN,
            )
            await connection.executemany(
                "INSERT INTO projects (id, tenant_id, name, description, created_by) "
                "VALUES ($1, $2, $3, $4, $5)",
                [
                    (project_id, tenant_id, "Big", "A project with many tasks.", user_id),
                    (inbox_id, tenant_id, "Inbox", "Where the create scenario writes.", user_id),
                ],
            )
            await connection.execute(
                "INSERT INTO projects (tenant_id, name) "
                "SELECT t.id, 'Project ' || g FROM tenants t, generate_series(1, 20) AS g"
            )
            await _tasks(connection, tenant_id, project_id, user_id, start, tasks)
            for other_id, _ in others:
                other_project = await connection.fetchval(
                    "SELECT id FROM projects WHERE tenant_id = $1 LIMIT 1", other_id
                )
                await _tasks(connection, other_id, other_project, None, start, 2_000)
        await connection.execute("ANALYZE")
        position = await connection.fetchrow(
            "SELECT created_at, id FROM tasks WHERE project_id = $1 "
            "ORDER BY created_at, id OFFSET $2 LIMIT 1",
            project_id,
            max(tasks - DEEP_OFFSET_FROM_END, 0),
        )
    finally:
        await connection.close()
    settings = bench.app_settings()
    token = JWTCodec(settings.auth).issue(
        user_id=user_id, tenant_id=tenant_id, role="member", family_id=uuid.uuid4()
    )
    codec = CursorCodec(settings.api.cursor_secret.get_secret_value().encode())
    return BenchData(
        tenant_id=tenant_id,
        user_id=user_id,
        project_id=project_id,
        inbox_id=inbox_id,
        token=token.token,
        deep_cursor=codec.encode(Position(position["created_at"], position["id"])),
        tasks=tasks,
    )


async def _tasks(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
    start: datetime,
    count: int,
) -> None:
    """`count` tasks, one millisecond apart, a mix of statuses; every fourth one assigned."""
    await connection.execute(
        "INSERT INTO tasks (tenant_id, project_id, title, description, status, assignee_id, "
        "due_date, created_at, updated_at) "
        "SELECT $1, $2, 'Task ' || g, 'Generated task number ' || g || '.', "
        "(ARRAY['todo', 'doing', 'done'])[1 + g % 3]::task_status, "
        "CASE WHEN g % 4 = 0 THEN $3::uuid END, "
        "CASE WHEN g % 5 = 0 THEN ($4::timestamptz + g * interval '1 minute')::date END, "
        "$4::timestamptz + g * interval '1 millisecond', "
        "$4::timestamptz + g * interval '1 millisecond' "
        "FROM generate_series(1, $5::int) AS g",
        tenant_id,
        project_id,
        assignee_id,
        start,
        count,
    )


async def forget_keys(redis_url: str) -> None:
    """Delete what earlier runs left in the bench's Redis database (only the bench's keys)."""
    redis = Redis.from_url(redis_url)
    try:
        for pattern in BENCH_KEY_PATTERNS:
            batch = [key async for key in redis.scan_iter(match=pattern, count=1000)]
            for start in range(0, len(batch), 1000):
                await redis.delete(*batch[start : start + 1000])
        # The bench measures a service whose Redis has not just lost its data: the denylist
        # is trusted for tokens minted before the run (a restart's fallback is a transient).
        await redis.set(DENYLIST_SINCE, "0", nx=True)
    finally:
        await redis.aclose()


async def prepare(bench: BenchSettings, *, tasks: int = BENCH_TASKS) -> BenchData:
    """Create and migrate the database when needed, fill it, clear the bench's Redis keys."""
    await create_database_if_missing(bench.database_owner_url)
    # env.py runs its own event loop, so Alembic runs in a worker thread.
    await asyncio.to_thread(migrate, bench)
    data = await fill(bench, tasks=tasks)
    await forget_keys(bench.redis_url)
    return data
