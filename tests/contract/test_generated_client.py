"""A client generated from the OpenAPI document (openapi-python-client) works: it signs up, logs in,
adds a user of the tenant against a real server, and an error arrives as the typed problem,
not as nothing (which is what a generator makes of a problem documented under the wrong media
type)."""

import asyncio
import importlib
import json
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.fixtures.database import fresh_database
from tests.fixtures.server import serving

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "dependable_client"
SERVER = {
    "AUTH__ARGON2_TIME_COST": "1",
    "AUTH__ARGON2_MEMORY_COST_KIB": "1024",
    "AUTH__ARGON2_PARALLELISM": "1",
}


async def generate_client(document: dict[str, Any], folder: Path) -> None:
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document))
    config = folder / "config.yml"
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\n")
    process = await asyncio.create_subprocess_exec(
        str(GENERATOR),
        "generate",
        "--path",
        str(spec),
        "--config",
        str(config),
        "--meta",
        "none",
        "--output-path",
        str(folder / PACKAGE),
        cwd=folder,
        # The generator formats what it writes with ruff, which lives beside it.
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode()
    assert process.returncode == 0, report
    assert "Warning" not in report, report  # "some pieces may be missing"


def load(module: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{module}")


@pytest.fixture
def client_package(tmp_path: Path) -> Any:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


@pytest.mark.usefixtures("redis")  # flushed: the cache must not remember another run's tenant
async def test_a_generated_client_drives_the_api_and_gets_typed_problems(
    app_instance: FastAPI, settings: Settings, client_package: Path
) -> None:
    await generate_client(app_instance.openapi(), client_package)
    api = {
        name: load(f"api.{name.split('_')[0]}.{name}")
        for name in (
            "tenants_sign_up",
            "auth_issue_token",
            "users_create_user",
            "users_list_users",
            "users_update_user",
        )
    }
    models = load("models")
    generated = load("client")

    server_settings = await fresh_database(settings, "client")
    async with serving(server_settings, client_package / "server.log", environment=SERVER) as base:
        anonymous = generated.Client(base_url=base)
        signup = await api["tenants_sign_up"].asyncio(
            client=anonymous,
            body=models.SignUpRequest(
                name="Generated",
                slug="generated",
                email="owner@generated.example.com",
                password="a generated-client passphrase",
                full_name="Gen Owner",
            ),
        )
        assert isinstance(signup, models.SignUpResponse)
        assert signup.tenant.slug == "generated"

        tokens = await api["auth_issue_token"].asyncio(
            client=anonymous,
            body=models.BodyAuthIssueToken(
                username="owner@generated.example.com", password="a generated-client passphrase"
            ),
            x_tenant="generated",
        )
        assert isinstance(tokens, models.TokenPair)
        owner = generated.AuthenticatedClient(base_url=base, token=tokens.access_token)

        user = await api["users_create_user"].asyncio(
            client=owner,
            body=models.UserCreate(
                email="member@generated.example.com",
                password="another generated passphrase",
                full_name="Gen Member",
            ),
        )
        assert isinstance(user, models.UserRead)
        assert user.email == "member@generated.example.com"
        listed = await api["users_list_users"].asyncio(client=owner)
        assert isinstance(listed, list)
        assert {each.id for each in listed} == {user.id, signup.owner.id}

        missing = await api["users_update_user"].asyncio_detailed(
            uuid.uuid4(), client=owner, body=models.UserUpdate(is_active=True)
        )
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem)
        assert missing.parsed.type_ == "urn:problem:dependable:user-not-found"

        invalid = await api["users_create_user"].asyncio_detailed(
            client=owner,
            body=models.UserCreate(
                email="nameless@generated.example.com",
                password="another generated passphrase",
                full_name="",
            ),
        )
        assert invalid.status_code == 422
        assert isinstance(invalid.parsed, models.Problem)
        assert [error.loc for error in invalid.parsed.errors] == [["body", "full_name"]]
