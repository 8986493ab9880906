"""`openapi`: the document of `create_app()`, written without touching any server."""

import json
from pathlib import Path

from fastapi import FastAPI

from tests.cli.conftest import CLI_ENV, RunCli, cli_process


async def test_writes_the_apps_document_to_a_file(
    cli: RunCli, tmp_path: Path, app_instance: FastAPI
) -> None:
    target = tmp_path / "nested" / "openapi.json"

    outcome = await cli("openapi", "--output", str(target))

    assert outcome.exit_code == 0, outcome
    assert outcome.stdout == ""
    assert f"Wrote {target}" in outcome.stderr
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == set(app_instance.openapi()["paths"])
    assert {"/api/v1/tenants", "/api/v1/auth/token", "/health/ready"} <= set(document["paths"])


async def test_prints_to_stdout_by_default(cli: RunCli) -> None:
    outcome = await cli("openapi")

    assert outcome.exit_code == 0, outcome
    assert "post" in json.loads(outcome.stdout)["paths"]["/api/v1/tenants"]


def test_needs_no_server_and_defaults_app_env_to_development(tmp_path: Path) -> None:
    closed = {
        **CLI_ENV,
        "DATABASE__URL": "postgresql+asyncpg://nobody@127.0.0.1:9/nowhere",
        "REDIS__URL": "redis://127.0.0.1:9/0",
    }
    # Without APP_ENV the settings would be production's, which refuse the default secret.
    process = cli_process("openapi", env=closed, cwd=tmp_path, drop=["APP_ENV"])

    assert process.returncode == 0, process.stderr
    assert "/api/v1/tenants" in json.loads(process.stdout)["paths"]
