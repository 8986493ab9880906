"""`seed-demo`: tenant `demo` with a user of every role, six projects and N varied tasks;
idempotent (a second run leaves the very same rows), and a larger N adds only what is missing."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli.seed import DEMO_USERS
from tests.cli.conftest import RunCli, delete_tenants, login, rows, scalar
from tests.fixtures.secrets import production_secrets_env

DEMO = "demo"


@pytest.fixture
async def no_demo(owner: AsyncEngine) -> AsyncIterator[None]:
    """seed-demo always uses slug `demo`: none before the test, none after it."""
    await delete_tenants(owner, [DEMO])
    yield
    await delete_tenants(owner, [DEMO])


async def snapshot(owner: AsyncEngine) -> dict[str, Any]:
    """What the demo tenant holds, read past row-level security by the tables' owner."""
    of_demo = "JOIN tenants t ON t.id = {}.tenant_id WHERE t.slug = 'demo'"
    task_rows = (
        "FROM tasks k JOIN projects p ON p.id = k.project_id "
        "LEFT JOIN users u ON u.id = k.assignee_id " + of_demo.format("k")
    )
    return {
        "tenants": await scalar(owner, "SELECT count(*) FROM tenants WHERE slug = 'demo'"),
        "users": dict(
            await rows(owner, "SELECT u.email, u.role::text FROM users u " + of_demo.format("u"))
        ),
        "projects": dict(
            await rows(
                owner,
                "SELECT p.name, count(k.id) FROM projects p LEFT JOIN tasks k "
                "ON k.project_id = p.id " + of_demo.format("p") + " GROUP BY p.name",
            )
        ),
        "tasks": await scalar(owner, "SELECT count(*) " + task_rows),
        "titles": await scalar(owner, "SELECT count(DISTINCT k.title) " + task_rows),
        "by_status": dict(
            await rows(owner, "SELECT k.status::text, count(*) " + task_rows + " GROUP BY 1")
        ),
        "by_assignee": dict(
            await rows(owner, "SELECT u.email, count(*) " + task_rows + " GROUP BY 1")
        ),
        "without_due_date": await scalar(
            owner, "SELECT count(*) " + task_rows + " AND k.due_date IS NULL"
        ),
        # Every task's content and identity: equal digests mean the very same rows.
        "digest": await scalar(
            owner,
            "SELECT md5(string_agg(concat_ws('|', k.id, k.title, k.status, p.name, u.email, "
            "k.due_date, k.version), ',' ORDER BY k.title)) " + task_rows,
        ),
    }


async def recorded_events(owner: AsyncEngine) -> list[tuple[str, object]]:
    """The demo tenant's events in the outbox, in the order they were recorded."""
    statement = (
        "SELECT o.type, o.tenant_id FROM outbox o JOIN tenants t ON t.id = o.tenant_id "
        "WHERE t.slug = 'demo' ORDER BY o.position"
    )
    return [(row.type, row.tenant_id) for row in await rows(owner, statement)]


async def test_seed_demo_twice_leaves_the_same_data(
    no_demo: None,
    cli: RunCli,
    owner: AsyncEngine,
    redis: Redis,
    app_instance: FastAPI,
) -> None:
    first = await cli("seed-demo", "--tasks", "300")

    assert first.exit_code == 0, first
    assert "created: 1 tenant, 4 users, 6 projects, 300 tasks" in first.stdout
    for user in DEMO_USERS:  # the logins are printed
        assert user.email in first.stdout
        assert user.password in first.stdout
        assert len(user.password) >= 12
    seeded = await snapshot(owner)
    assert seeded["tenants"] == 1
    assert seeded["users"] == {user.email: user.role.value for user in DEMO_USERS}
    assert len(seeded["projects"]) == 6
    assert all(count >= 40 for count in seeded["projects"].values())  # spread over all six
    assert seeded["tasks"] == seeded["titles"] == 300  # no duplicates
    assert set(seeded["by_status"]) == {"todo", "doing", "done"}
    assert min(seeded["by_status"].values()) >= 30
    assert None in seeded["by_assignee"]  # some unassigned
    assert len(seeded["by_assignee"]) >= 4  # and several assignees
    assert 0 < seeded["without_due_date"] < 300
    tenant_id = await scalar(owner, "SELECT id FROM tenants WHERE slug = 'demo'")
    # The users (all but the owner, whom the signup made) and the projects went through their
    # services, which recorded their events in the outbox.
    events = [("user.created", tenant_id)] * 3 + [("project.created", tenant_id)] * 6
    assert await recorded_events(owner) == events

    second = await cli("seed-demo", "--tasks", "300")

    assert second.exit_code == 0, second
    assert "created: nothing" in second.stdout
    assert await snapshot(owner) == seeded
    assert await recorded_events(owner) == events
    # The printed passwords are the real ones.
    assert await login(app_instance, DEMO, DEMO_USERS[2].email, DEMO_USERS[2].password) == 200


async def test_more_tasks_later_adds_only_the_missing_ones(
    no_demo: None, cli: RunCli, owner: AsyncEngine
) -> None:
    await cli("seed-demo", "--tasks", "120")
    before = await snapshot(owner)

    more = await cli("seed-demo", "--tasks", "150")

    assert more.exit_code == 0, more
    assert "created: 30 tasks" in more.stdout
    after = await snapshot(owner)
    assert after["tasks"] == after["titles"] == 150
    assert after["users"] == before["users"]
    assert set(after["projects"]) == set(before["projects"])


async def test_a_removed_demo_owner_is_not_made_again(
    no_demo: None, cli: RunCli, owner: AsyncEngine
) -> None:
    """Owners come only from signup, in the seed as in the API: a demo owner removed later (with
    another owner left to act as) is reported, not recreated around the API's rules."""
    await cli("seed-demo", "--tasks", "10")
    demo_owner, demo_admin = DEMO_USERS[0].email, DEMO_USERS[1].email
    of_demo = "AND tenant_id = (SELECT id FROM tenants WHERE slug = 'demo')"
    async with owner.begin() as connection:
        promote = "UPDATE users SET role = 'owner' WHERE email = :email " + of_demo
        await connection.execute(text(promote), {"email": demo_admin})
        remove = "DELETE FROM users WHERE email = :email " + of_demo
        await connection.execute(text(remove), {"email": demo_owner})
    before = await snapshot(owner)

    outcome = await cli("seed-demo", "--tasks", "10")

    assert outcome.error_line == (
        f"error: {demo_owner} is no longer a user of tenant 'demo'; "
        "delete the tenant to seed it afresh"
    )
    assert await snapshot(owner) == before


async def test_refuses_to_publish_passwords_outside_development(
    no_demo: None, cli: RunCli, owner: AsyncEngine
) -> None:
    outcome = await cli(
        "seed-demo",
        "--tasks",
        "10",
        env={"APP_ENV": "staging", **production_secrets_env()},
    )

    assert outcome.error_line == (
        "error: seed-demo creates users whose passwords are published: it runs only with "
        "APP_ENV=development or test, not staging"
    )
    assert await scalar(owner, "SELECT count(*) FROM tenants WHERE slug = 'demo'") == 0


async def test_app_env_from_dot_env_is_respected(
    no_demo: None,
    cli: RunCli,
    owner: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only an APP_ENV set nowhere defaults to development: a `.env` saying staging still counts.
    secrets = "".join(f"{name}={value}\n" for name, value in production_secrets_env().items())
    (tmp_path / ".env").write_text(f"APP_ENV=staging\n{secrets}")
    monkeypatch.chdir(tmp_path)

    outcome = await cli("seed-demo", "--tasks", "10", env={"APP_ENV": None})

    assert outcome.error_line.endswith("not staging")
    assert await scalar(owner, "SELECT count(*) FROM tenants WHERE slug = 'demo'") == 0
