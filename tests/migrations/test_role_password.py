"""The role migration creates the app's login role with exactly the password in DATABASE__URL,
whatever characters it holds (issue 10, item 11).

Runs on a scratch database named after the test database, with a login role named after it too
(roles are cluster-wide); both are dropped afterwards. The test server trusts local connections,
so a login would succeed with any password: the proof is the SCRAM verifier PostgreSQL stored,
checked against the password as a client would (RFC 5802), plus a real login to show the role
has LOGIN.
"""

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import make_url

from app.core.config import DatabaseSettings, Settings
from app.core.db import create_database_if_missing, drop_database_if_exists
from migrations.security import APP_ROLE
from tests.fixtures.database import alembic_config
from tests.fixtures.settings import make_settings

ROLE_REVISION = "5b1d0c7e2f43"  # app role and row-level security

HOSTILE_PASSWORDS = [
    "it's a 'quoted' password",
    "dollar$$quoted$$password",
    "$tag$ends the tag$tag$",
    "$$; DROP ROLE postgres; --",
    "back\\slash\\' and \\\\ two",
    "semi;colons; END; $$ LANGUAGE plpgsql; --",
    ":colon :param %(pct)s %s $1",
    "double \"quotes\" and E'\\x41'",
]


def scram_matches(verifier: str, password: str) -> bool:
    """Whether `password` produces PostgreSQL's stored SCRAM-SHA-256 verifier."""
    mechanism, rest = verifier.split("$", 1)
    assert mechanism == "SCRAM-SHA-256", verifier
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, _server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


async def owner_connection(url: str) -> asyncpg.Connection:
    target = make_url(url)
    return await asyncpg.connect(
        host=target.host, port=target.port, user=target.username, database=target.database
    )


@pytest.fixture(scope="module")
async def scratch(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """(owner URL, login-role name prefix) for a scratch database of this test's own."""
    base, name = settings.database.owner_url.rsplit("/", 1)
    owner_url = f"{base}/{name}_role_password"
    await create_database_if_missing(owner_url)
    yield owner_url, f"{name}_pw"
    await drop_database_if_exists(owner_url)


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
async def test_item11_a_hostile_password_creates_a_login_role_with_exactly_that_password(
    scratch: tuple[str, str], password: str
) -> None:
    owner_url, prefix = scratch
    role = f"{prefix}_{HOSTILE_PASSWORDS.index(password)}"
    owner = make_url(owner_url)
    app_url = owner.set(username=role, password=password).render_as_string(hide_password=False)
    assert make_url(app_url).password == password  # the URL itself carries it intact
    config = alembic_config(
        make_settings(database=DatabaseSettings(url=app_url, migration_url=owner_url))
    )
    admin = await owner_connection(owner_url)
    try:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, ROLE_REVISION)

        row = await admin.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolpassword, "
            "pg_has_role(rolname, $2, 'MEMBER') AS member FROM pg_authid WHERE rolname = $1",
            role,
            APP_ROLE,
        )
        assert row is not None, "the migration did not create the login role"
        assert (row["rolcanlogin"], row["rolsuper"], row["rolbypassrls"]) == (True, False, False)
        assert row["member"] is True
        assert scram_matches(row["rolpassword"], password)
        assert not scram_matches(row["rolpassword"], password + "x")

        login = await asyncpg.connect(
            host=owner.host,
            port=owner.port,
            user=role,
            password=password,
            database=owner.database,
        )
        try:
            assert await login.fetchval("SELECT current_user") == role
        finally:
            await login.close()
    finally:
        await asyncio.to_thread(command.downgrade, config, "base")
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
