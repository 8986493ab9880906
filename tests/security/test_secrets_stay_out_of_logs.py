"""Item 6 of issue 10: the error paths never write a password, a password hash, a token or a
secret into the logs.

A production-mode app (its real lifespan, so its real engine: `hide_parameters` is what is under
test) is driven through the error paths with its log captured: NUL inputs, failed logins, bad
access and refresh tokens, refresh-token reuse, and a database error on a statement whose
parameters hold an argon2 hash. Then no log line may contain any of those values. Before the
fix, a NUL in signup's name was a 500 whose error line listed the INSERT's parameters, hash
included; and any database error did the same.

The app commits for real (it is not on the test's rolled-back connection); the tenant it creates
is deleted at the end by the tables' owner.
"""

import dataclasses
import secrets
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import create_session_factory
from app.core.logging import configure_logging
from app.core.resources import Resources
from app.http.deps import get_resources
from app.main import create_app
from tests.fixtures.app import provide
from tests.fixtures.paths import REFRESH, TENANTS, TOKEN
from tests.fixtures.secrets import production_settings
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL
from tests.observability.conftest import LogCapture


def password() -> str:
    return f"pw-{secrets.token_hex(16)}"


@pytest.fixture
async def production_app(
    settings: Settings, redis: Redis, engine: object
) -> AsyncIterator[tuple[FastAPI, LogCapture]]:
    """`engine`: the test database is migrated; `redis`: its logical database is flushed."""
    prod = production_settings()
    app = create_app(prod)
    logs = LogCapture(prod)  # after create_app, which configures logging itself
    slug = f"logs-{secrets.token_hex(4)}"
    app.state.test_slug = slug
    try:
        async with app.router.lifespan_context(app):
            yield app, logs
    finally:
        owner = create_async_engine(TEST_DATABASE_OWNER_URL, poolclass=NullPool)
        async with owner.begin() as connection:
            await connection.execute(text("DELETE FROM tenants WHERE slug = :s"), {"s": slug})
        await owner.dispose()
        configure_logging(settings)


def read_only(resources: Resources) -> Resources:
    """The app's resources, but every transaction READ ONLY: a write is a database error."""
    engine = resources.engine.execution_options(postgresql_readonly=True)
    return dataclasses.replace(resources, session_factory=create_session_factory(engine))


async def test_item6_error_paths_log_no_password_hash_token_or_secret(
    production_app: tuple[FastAPI, LogCapture],
) -> None:
    app, logs = production_app
    slug = app.state.test_slug
    settings: Settings = app.state.settings
    owner_password, wrong_password, new_user_password = password(), password(), password()
    leaked: dict[str, str] = {
        "owner password": owner_password,
        "wrong password": wrong_password,
        "new user password": new_user_password,
        "argon2 hash": "$argon2",
        "token key": settings.auth.secret_key.get_secret_value(),
        "cursor key": settings.api.cursor_secret.get_secret_value(),
    }
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        signup = {
            "name": "Logs",
            "slug": slug,
            "email": f"owner@{slug}.example.com",
            "password": owner_password,
            "full_name": "Olive",
        }
        # NUL in the unauthenticated inputs (a 500 before the fix, with the hash in its log).
        nul_signup = {**signup, "name": "Lo\x00gs", "slug": f"{slug}-nul"}
        assert (await client.post(TENANTS, json=nul_signup)).status_code == 422
        assert (await client.post(TENANTS, json=signup)).status_code == 201
        tenant = {"X-Tenant": slug}
        form = {"username": signup["email"], "password": owner_password}
        nul_login = {**form, "username": form["username"] + "\x00"}
        assert (await client.post(TOKEN, data=nul_login, headers=tenant)).status_code == 422
        bad_login = {**form, "password": wrong_password}
        assert (await client.post(TOKEN, data=bad_login, headers=tenant)).status_code == 401

        pair = (await client.post(TOKEN, data=form, headers=tenant)).json()
        access, refresh = pair["access_token"], pair["refresh_token"]
        leaked |= {"access token": access, "refresh token": refresh}
        auth = {"Authorization": f"Bearer {access}"}

        # Bad tokens: tampered signature, garbage, a made-up refresh token.
        tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
        for bad in (tampered, "not-a-token"):
            me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {bad}"})
            assert me.status_code == 401
        made_up = {"refresh_token": secrets.token_urlsafe(32)}
        assert (await client.post(REFRESH, json=made_up)).status_code == 401

        # A database error on INSERT INTO users, whose parameters hold the new hash.
        app.dependency_overrides[get_resources] = provide(read_only(app.state.resources))
        new_user = {
            "email": f"new@{slug}.example.com",
            "password": new_user_password,
            "full_name": "Nina",
        }
        assert (await client.post("/api/v1/users", json=new_user, headers=auth)).status_code == 500
        app.dependency_overrides.clear()

        # Refresh rotation, then reuse of the spent token (the family is revoked).
        rotated = (await client.post(REFRESH, json={"refresh_token": refresh})).json()
        leaked |= {
            "rotated access": rotated["access_token"],
            "rotated refresh": rotated["refresh_token"],
        }
        assert (await client.post(REFRESH, json={"refresh_token": refresh})).status_code == 401

    lines = logs.text.splitlines()
    found = sorted(
        f"{what} in line {number}"
        for what, value in leaked.items()
        for number, line in enumerate(lines)
        if value in line
    )
    assert found == []
    # Not vacuous: the database error was logged, with its statement but not its parameters.
    errors = [line for line in logs.lines() if line["level"] == "error"]
    assert any("INSERT INTO users" in str(line.get("exception")) for line in errors)
    assert any("parameters hidden" in str(line.get("exception")) for line in errors)
