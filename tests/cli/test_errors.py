"""Failures the commands cannot help: an unreachable or unmigrated database. One line on stderr
(without the URL's password), exit status 1, never a traceback."""

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli.conftest import CLI_ENV, RunCli, cli_process, error_line
from tests.fixtures.ports import unused_port
from tests.fixtures.settings import TEST_DATABASE_URL

PASSWORD = "correct horse battery"


def create_tenant_args(slug: str) -> list[str]:
    return [
        *("create-tenant", "--slug", slug, "--name", "Acme", "--full-name", "Olive Owner"),
        *("--email", "owner@example.com", "--password", PASSWORD),
    ]


def test_an_unreachable_database_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    port = unused_port()
    env = {**CLI_ENV, "DATABASE__URL": f"postgresql+asyncpg://app:s3cret@127.0.0.1:{port}/x"}

    process = cli_process(*create_tenant_args("cli-unreachable"), env=env, cwd=tmp_path)

    line = error_line(process.returncode, process.stderr)
    assert line.startswith(f"error: cannot reach PostgreSQL at 127.0.0.1:{port}: ")
    assert "s3cret" not in line
    assert process.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(create_tenant_args("cli-unreachable"), id="create-tenant"),
        pytest.param(
            [
                *("create-user", "--tenant", "acme", "--email", "m@example.com"),
                *("--full-name", "M", "--role", "member", "--password", PASSWORD),
            ],
            id="create-user",
        ),
        # demo:begin
        pytest.param(["seed-demo", "--tasks", "10"], id="seed-demo"),
        # demo:end
    ],
)
async def test_every_command_reports_an_unreachable_database(cli: RunCli, args: list[str]) -> None:
    port = unused_port()

    outcome = await cli(*args, env={"DATABASE__URL": f"postgresql+asyncpg://a@127.0.0.1:{port}/x"})

    assert outcome.error_line.startswith(f"error: cannot reach PostgreSQL at 127.0.0.1:{port}: ")


async def test_an_unmigrated_database_is_named_as_such(cli: RunCli) -> None:
    # The server's maintenance database: reachable, but it has no migrations at all.
    elsewhere = make_url(TEST_DATABASE_URL).set(database="postgres")

    outcome = await cli(
        *create_tenant_args("cli-unmigrated"),
        env={"DATABASE__URL": elsewhere.render_as_string(hide_password=False)},
    )

    assert outcome.error_line.startswith("error: the database is at nothing, not at the migration")
    assert "make migrate" in outcome.error_line
