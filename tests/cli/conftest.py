"""The admin CLI against the test servers.

The commands open their own engine and COMMIT for real, so they cannot share the rolled-back
connection the other tests use: they are pointed at the test database through the environment,
and what they create is deleted afterwards through an owner connection (deleting a tenant
cascades to everything it owns). Every test uses its own slug, except seed-demo,
whose slug is always `demo`.

`cli(...)` runs the typer app in-process with `CliRunner` in a worker thread: the commands call
`asyncio.run`, which cannot run on the thread where pytest-asyncio's loop lives.
`cli_process(...)` runs `python -m app.cli` as a real process, for what only a process shows.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from app.cli.commands import cli as typer_app
from app.core.config import load_settings
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL, TEST_DATABASE_URL, TEST_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]

# What an operator would export to point the CLI at a server; cheap argon2 keeps hashing fast.
CLI_ENV = {
    "APP_ENV": "test",
    "DATABASE__URL": TEST_DATABASE_URL,
    "DATABASE__MIGRATION_URL": TEST_DATABASE_OWNER_URL,
    "DATABASE__POOL_SIZE": "2",
    "REDIS__URL": TEST_REDIS_URL,
    "AUTH__ARGON2_TIME_COST": "1",
    "AUTH__ARGON2_MEMORY_COST_KIB": "1024",
    "AUTH__ARGON2_PARALLELISM": "1",
}


def error_line(exit_code: int, stderr: str) -> str:
    """The one line a failed command prints (asserting that it is exactly one line)."""
    assert exit_code == 1, (exit_code, stderr)
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @property
    def error_line(self) -> str:
        assert self.exception is None, self.exception
        # In-process, the test session's own logging (JSON lines on stderr, configured by the
        # app fixtures) sees the command's log records too; a real process shows only WARNING
        # and above (see test_errors.py, which checks the one line in a real process).
        output = [line for line in self.stderr.splitlines() if not line.startswith("{")]
        return error_line(self.exit_code, "\n".join(output))


def _invoke(args: Sequence[str], env: dict[str, str | None], input_: str | None) -> Outcome:
    load_settings.cache_clear()  # the command reads this invocation's environment
    try:
        result = CliRunner().invoke(typer_app, list(args), env=env, input=input_)
    finally:
        load_settings.cache_clear()
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


RunCli = Callable[..., Coroutine[Any, Any, Outcome]]


@pytest.fixture
def cli(engine: AsyncEngine) -> RunCli:  # `engine`: the test database is migrated to head
    async def run(
        *args: str, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Outcome:
        """`env` adds to CLI_ENV; a None value removes the variable."""
        return await asyncio.to_thread(_invoke, args, {**CLI_ENV, **(env or {})}, input)

    return run


def cli_process(
    *args: str, env: dict[str, str], cwd: Path, drop: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`python -m app.cli` in `cwd` (away from any `.env` of the checkout)."""
    environment = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for name in drop:
        environment.pop(name, None)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="session")
async def owner(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The tables' owner: sees every tenant's rows (row-level security does not bind it)."""
    owner = create_async_engine(TEST_DATABASE_OWNER_URL, poolclass=NullPool)
    yield owner
    await owner.dispose()


async def delete_tenants(owner: AsyncEngine, slugs: Sequence[str]) -> None:
    async with owner.begin() as connection:
        await connection.execute(text("SET LOCAL lock_timeout = '5s'"))  # fail, never hang
        await connection.execute(
            text("DELETE FROM tenants WHERE slug = ANY(:slugs)"), {"slugs": list(slugs)}
        )


class Slugs:
    """Unique tenant slugs for one test; their tenants are deleted when it ends."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def new(self) -> str:
        slug = f"cli-{uuid.uuid4().hex[:16]}"
        self.made.append(slug)
        return slug


@pytest.fixture
async def slugs(owner: AsyncEngine) -> AsyncIterator[Slugs]:
    made = Slugs()
    yield made
    await delete_tenants(owner, made.made)


async def scalar(owner: AsyncEngine, sql: str, **params: object) -> Any:
    async with owner.connect() as connection:
        return (await connection.execute(text(sql), params)).scalar()


async def rows(owner: AsyncEngine, sql: str, **params: object) -> list[Any]:
    async with owner.connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def login(app: FastAPI, slug: str, email: str, password: str) -> int:
    """The status of a real login through the API (the test app's own, committing sessions)."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": email, "password": password},
            headers={"X-Tenant": slug},
        )
        return response.status_code
