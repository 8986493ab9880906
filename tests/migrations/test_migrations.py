"""Every revision goes up and down, and the models match the migrations (no drift).

Runs on a scratch database of its own, so the shared test database is never downgraded."""

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.resources import read_migration_heads
from migrations.models import Base
from tests.fixtures.database import alembic_config, scratch_database, version_rows


@pytest.fixture(scope="module")
async def scratch_settings(settings: Settings) -> Settings:
    return await scratch_database(settings, "migrations")


def applied(script: ScriptDirectory, rows: set[str]) -> set[str]:
    """The revisions those rows stand for: theirs and their ancestors, through depends_on too."""
    return {ancestor.revision for row in rows for ancestor in script.iterate_revisions(row, "base")}


async def test_every_revision_upgrades_and_downgrades(scratch_settings: Settings) -> None:
    config = alembic_config(scratch_settings)
    url = scratch_settings.database.owner_url
    script = ScriptDirectory.from_config(config)
    newest_first = [r.revision for r in script.walk_revisions()]  # every branch, heads first

    await asyncio.to_thread(command.downgrade, config, "base")
    for revision in reversed(newest_first):
        await asyncio.to_thread(command.upgrade, config, revision)
        assert revision in applied(script, await version_rows(url))
    for revision in newest_first:
        # `<revision>@-1`: one step down on that revision's own branch.
        await asyncio.to_thread(command.downgrade, config, f"{revision}@-1")
        assert revision not in applied(script, await version_rows(url))
    assert await version_rows(url) == set()
    await asyncio.to_thread(command.upgrade, config, "heads")
    assert await version_rows(url) == read_migration_heads()


async def test_models_match_migrations(scratch_settings: Settings) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(scratch_settings), "heads")
    engine = create_async_engine(scratch_settings.database.owner_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    assert diff == []
