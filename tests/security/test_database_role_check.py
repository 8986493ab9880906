"""Issue 10, "Also found": the app refuses to start (production, staging) or warns loudly
(development, test) when its database role is not bound by row-level security: a superuser, a
BYPASSRLS role, or the owner of the tenant tables. The check runs in the app's lifespan (the CLI,
which legitimately runs as the owner, does not make it).

The harness's owner URL (TEST_DATABASE_OWNER_URL) is a superuser; the application role
(TEST_DATABASE_URL, `dependable_api`) is none of the three.
"""

import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import DatabaseSettings, Settings
from app.core.db import UnsafeDatabaseRoleError
from app.main import create_app
from tests.fixtures.ports import unused_port
from tests.fixtures.secrets import production_settings
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL, TEST_DATABASE_URL, make_settings

pytestmark = pytest.mark.usefixtures("engine")  # the test database exists, at head


def with_url(settings: Settings, url: str) -> Settings:
    database = DatabaseSettings(url=url, migration_url=TEST_DATABASE_OWNER_URL, pool_size=1)
    return settings.model_copy(update={"database": database})


async def start(settings: Settings) -> None:
    """Run the app's lifespan up to serving, then shut it down."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass


@pytest.fixture
async def owner() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(TEST_DATABASE_OWNER_URL, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def scratch_role(owner: AsyncEngine) -> AsyncIterator[str]:
    """A login role of this test's own (roles are cluster-wide: unique name, dropped after)."""
    name = f"dependable_check_{secrets.token_hex(4)}"
    database = make_url(TEST_DATABASE_OWNER_URL).database
    async with owner.begin() as connection:
        await connection.execute(text(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        await connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{name}"'))
    yield name
    async with owner.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS role_check_scratch"))
        await connection.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM "{name}"'))
        await connection.execute(text(f'DROP ROLE "{name}"'))


def url_for(role: str) -> str:
    return (
        make_url(TEST_DATABASE_OWNER_URL)
        .set(username=role, password=None)
        .render_as_string(hide_password=False)
    )


class TestProductionRefusesAPrivilegedRole:
    @pytest.mark.parametrize("env", ["production", "staging"])
    async def test_a_superuser_is_refused(self, env: str) -> None:
        settings = with_url(production_settings(app_env=env), TEST_DATABASE_OWNER_URL)
        with pytest.raises(UnsafeDatabaseRoleError, match="is a superuser"):
            await start(settings)

    async def test_a_bypassrls_role_is_refused(self, owner: AsyncEngine, scratch_role: str) -> None:
        async with owner.begin() as connection:
            await connection.execute(text(f'ALTER ROLE "{scratch_role}" BYPASSRLS'))
        with pytest.raises(UnsafeDatabaseRoleError, match="has BYPASSRLS"):
            await start(with_url(production_settings(), url_for(scratch_role)))

    async def test_the_owner_of_a_tenant_table_is_refused(
        self, owner: AsyncEngine, scratch_role: str
    ) -> None:
        async with owner.begin() as connection:
            await connection.execute(text("CREATE TABLE role_check_scratch (id int)"))
            await connection.execute(
                text("ALTER TABLE role_check_scratch ENABLE ROW LEVEL SECURITY")
            )
            await connection.execute(
                text(f'ALTER TABLE role_check_scratch OWNER TO "{scratch_role}"')
            )
        with pytest.raises(UnsafeDatabaseRoleError, match="owns the tables role_check_scratch"):
            await start(with_url(production_settings(), url_for(scratch_role)))

    async def test_the_application_role_starts(self) -> None:
        await start(with_url(production_settings(), TEST_DATABASE_URL))

    async def test_an_unreachable_database_is_refused_without_hanging(self) -> None:
        # Production cannot show the second wall is up, so it does not start (the orchestrator
        # retries); connection refused comes back at once, a silent host within the bound.
        url = f"postgresql+asyncpg://dependable_api@127.0.0.1:{unused_port()}/nowhere"
        with pytest.raises(UnsafeDatabaseRoleError, match="could not check"):
            await start(with_url(production_settings(), url))


class TestDevelopmentWarns:
    @pytest.mark.parametrize("env", ["development", "test"])
    async def test_a_superuser_starts_with_a_warning(
        self, env: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = with_url(make_settings(app_env=env), TEST_DATABASE_OWNER_URL)
        with caplog.at_level(logging.WARNING, logger="app.db"):
            await start(settings)
        assert any("is a superuser" in message for message in caplog.messages)

    async def test_the_application_role_starts_silently(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="app.db"):
            await start(with_url(make_settings(), TEST_DATABASE_URL))
        assert not [record for record in caplog.records if record.name == "app.db"]

    async def test_an_unreachable_database_starts_with_a_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = f"postgresql+asyncpg://dependable_api@127.0.0.1:{unused_port()}/nowhere"
        with caplog.at_level(logging.WARNING, logger="app.db"):
            await start(with_url(make_settings(), url))
        assert any("unverified" in message for message in caplog.messages)
