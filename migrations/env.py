"""Alembic environment: async, reading the same settings as the app.

The owner role runs migrations (DATABASE__MIGRATION_URL, falling back to DATABASE__URL). A caller
may hand in ready `Settings` through `config.attributes["settings"]` (the test harness does).
"""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings, load_settings
from migrations.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
INVALID_CATALOG_NAME = "3D000"  # PostgreSQL's SQLSTATE for "database ... does not exist"


class MissingDatabaseError(Exception):
    """The database to migrate does not exist: said in one line, not a driver's traceback."""


def _settings() -> Settings:
    settings = config.attributes.get("settings")
    if not isinstance(settings, Settings):
        settings = load_settings()
        # Migrations that need configuration (the app's login role) read it from here.
        config.attributes["settings"] = settings
    return settings


def run_migrations_offline() -> None:
    context.configure(
        url=_settings().database.owner_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    # hide_parameters: a failing statement's error must not print the login role's password,
    # which the role migration binds as a parameter.
    url = _settings().database.owner_url
    engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    except DBAPIError as error:
        if getattr(error.orig, "pgcode", None) != INVALID_CATALOG_NAME:
            raise
        raise MissingDatabaseError(
            f"the database {make_url(url).database!r} does not exist: `make migrate` creates "
            "it (it runs `python -m app.cli create-database` first)"
        ) from None
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    try:
        asyncio.run(run_migrations_online())
    except MissingDatabaseError as error:
        raise SystemExit(f"error: {error}") from None
