"""A first `make migrate` on a server without the database: `create-database` makes it (and says
nothing when it exists), `make migrate` runs it before Alembic, and Alembic alone stops with one
line saying how, not a driver's traceback. Each test uses a database named after the test
database (so parallel runs on other databases never share it), dropped before and after."""

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.core.db import drop_database_if_exists
from app.core.resources import read_migration_heads
from tests.cli.conftest import CLI_ENV, ROOT, cli_process, error_line
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL, TEST_DATABASE_URL

SUFFIX = "_created_by_cli"
OWNER = make_url(TEST_DATABASE_OWNER_URL)
SERVER = f"{OWNER.host}:{OWNER.port or 5432}"


async def connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=OWNER.host,
        port=OWNER.port,
        user=OWNER.username,
        password=OWNER.password,
        database=database,
    )


async def database_exists(name: str) -> bool:
    admin = await connect("postgres")
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


@pytest.fixture
async def missing() -> AsyncIterator[str]:
    """The name of a database that does not exist (dropped before and after the test)."""
    url = OWNER.set(database=f"{OWNER.database}{SUFFIX}").render_as_string(hide_password=False)
    await drop_database_if_exists(url)
    yield str(make_url(url).database)
    await drop_database_if_exists(url)


def environment(database: str) -> dict[str, str]:
    """The CLI's environment, pointed at `database` (the app role and the owner)."""
    return {
        **CLI_ENV,
        "DATABASE__URL": make_url(TEST_DATABASE_URL)
        .set(database=database)
        .render_as_string(hide_password=False),
        "DATABASE__MIGRATION_URL": OWNER.set(database=database).render_as_string(
            hide_password=False
        ),
    }


def alembic_upgrade(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own alembic, fixed arguments
        [str(Path(sys.executable).parent / "alembic"), "upgrade", "heads"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_alembic_alone_says_in_one_line_that_the_database_is_missing(
    missing: str,
) -> None:
    result = await asyncio.to_thread(alembic_upgrade, environment(missing))

    line = error_line(result.returncode, result.stderr)
    assert line == (
        f"error: the database '{missing}' does not exist: `make migrate` creates it "
        "(it runs `python -m app.cli create-database` first)"
    )
    assert not await database_exists(missing)


async def test_create_database_creates_it_once(missing: str, tmp_path: Path) -> None:
    env = environment(missing)

    first = await asyncio.to_thread(cli_process, "create-database", env=env, cwd=tmp_path)
    again = await asyncio.to_thread(cli_process, "create-database", env=env, cwd=tmp_path)

    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == f"Created the database '{missing}' at {SERVER}.\n"
    assert await database_exists(missing)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


async def test_create_database_that_cannot_connect_is_one_line(tmp_path: Path) -> None:
    env = {**CLI_ENV, "DATABASE__MIGRATION_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/x"}

    result = await asyncio.to_thread(cli_process, "create-database", env=env, cwd=tmp_path)

    line = error_line(result.returncode, result.stderr)
    assert line.startswith("error: cannot create the database 'x' as 'nobody' at 127.0.0.1:9: ")


def make_migrate(database: str, shims: Path) -> subprocess.CompletedProcess[str]:
    """`make migrate` as a newcomer runs it, with `uv run` played by a shim that runs the
    command in this environment (no uv, no sync, no network)."""
    uv = shims / "uv"
    uv.write_text('#!/bin/sh\nshift\nexec "$@"\n')  # drops "run"
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(  # noqa: S603 - make with the project's Makefile, fixed arguments
        ["make", "--no-print-directory", "migrate", f"UV={uv}"],  # noqa: S607 - make on PATH
        cwd=ROOT,
        env={**os.environ, **environment(database), "PATH": path, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_make_migrate_creates_the_database_and_migrates_it(
    missing: str, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(make_migrate, missing, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Created the database '{missing}'" in result.stdout
    migrated = await connect(missing)
    try:
        rows = await migrated.fetch("SELECT version_num FROM alembic_version")
        assert {row["version_num"] for row in rows} == read_migration_heads()
    finally:
        await migrated.close()
