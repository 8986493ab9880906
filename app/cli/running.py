"""What the admin commands share: the process resources, the API's own transaction, the API's
request schemas for validation, and the rule that a failure is one line on stderr, never a
traceback.

A command that touches the servers runs as `run(work)`: settings from the environment, then
`admin_resources` (what the app's lifespan opens, after checking that PostgreSQL answers and is
migrated), and each unit of work inside `transaction`, which is `get_session` itself, so it
commits, rolls back and runs after-commit callbacks exactly as a request does.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import DatabaseSettings, Settings, load_settings
from app.core.errors import AppError
from app.core.resources import Resources, open_resources
from app.http.deps import get_resources, get_session
from app.http.outside_request import resolved

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)


class _AppEnvOnly(BaseSettings):
    """Only APP_ENV, resolved as `Settings` resolves it (environment, then `.env`)."""

    model_config = SettingsConfigDict(
        env_file=Settings.model_config.get("env_file"), extra="ignore"
    )
    app_env: str | None = None


def default_app_env() -> None:
    """APP_ENV=development when neither the environment nor `.env` sets it: outside a
    deployment the development defaults will do (a deployment sets APP_ENV)."""
    if _AppEnvOnly().app_env is None:
        os.environ["APP_ENV"] = "development"


class CommandError(Exception):
    """An expected failure; its message is the line the command prints before exiting with 1."""


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)  # one line, whatever it holds
    raise typer.Exit(1)


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _reason(error: BaseException) -> str:
    root = _root_cause(error)
    return str(root) or type(root).__name__


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn the failures a command expects into one line on stderr and exit status 1."""
    try:
        yield
    except CommandError as error:
        fail(str(error))
    except ValidationError as error:  # the settings (the commands' inputs go through `validated`)
        fail(
            f"invalid {'settings' if error.title == Settings.__name__ else error.title}: "
            f"{describe(error)}"
        )
    except AppError as error:  # a domain rule the services enforce (the API's 4xx problems)
        fail(error.detail)
    except SQLAlchemyError as error:
        fail(f"database error: {_reason(error)}")


def describe(
    error: ValidationError,
    names: dict[str, str] | None = None,
    rules: dict[str, str] | None = None,
) -> str:
    """Pydantic's errors as one line, each under the option (or setting) it concerns; a
    pattern mismatch is told as the field's rule (`rules`) rather than as its regex."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        context = item.get("ctx") or {}
        if item["type"] == "string_pattern_mismatch" and field in (rules or {}):
            message = f"should be {(rules or {})[field].rstrip('.')}"
        elif item["type"] == "too_short" and "min_length" in context:
            message = f"must be at least {context['min_length']} characters long"
        else:
            message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{(names or {}).get(field, field)}: {message}" if field else message)
    return "; ".join(parts)


def validated(schema: type[ModelT], **values: Any) -> ModelT:
    """`values` checked by the API's own request schema, errors named by their CLI option."""
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        names = {field: "--" + field.replace("_", "-") for field in values}
        rules = {f: i.description for f, i in schema.model_fields.items() if i.description}
        raise CommandError(f"invalid {describe(error, names, rules)}") from None


def database_address(settings: DatabaseSettings) -> str:
    url = make_url(settings.url)  # host and port only: the URL may carry a password
    return f"{url.host or 'localhost'}:{url.port or 5432}"


async def check_database(resources: Resources, settings: Settings) -> None:
    """PostgreSQL answers and is at the migration head this code expects (as /health/ready)."""
    try:
        connection = await resources.engine.connect()
    except Exception as error:  # refused, timed out, unknown host, authentication failed, ...
        address = database_address(settings.database)
        raise CommandError(f"cannot reach PostgreSQL at {address}: {_reason(error)}") from None
    try:
        result = await connection.scalars(text("SELECT version_num FROM alembic_version"))
        revisions = frozenset(result.all())
    except ProgrammingError:  # no alembic_version table: never migrated
        revisions = frozenset()
    finally:
        await connection.close()
    if revisions != resources.migration_heads:
        at = ", ".join(sorted(revisions)) or "nothing"
        expected = ", ".join(sorted(resources.migration_heads))
        raise CommandError(
            f"the database is at {at}, not at the migration head {expected}: "
            "run `make migrate` (alembic upgrade heads)"
        )


@asynccontextmanager
async def admin_resources(settings: Settings) -> AsyncIterator[Resources]:
    """What the app's lifespan opens, once PostgreSQL has been found answering and migrated."""
    async with open_resources(settings) as resources:
        await check_database(resources, settings)
        yield resources


@asynccontextmanager
async def transaction(resources: Resources) -> AsyncIterator[AsyncSession]:
    """One transaction, exactly as a request's: the API's `get_session` dependency itself."""
    async with resolved(get_session, given={get_resources: resources}) as session:
        yield session


def run(work: Callable[[Settings, Resources], Coroutine[Any, Any, T]]) -> T:
    """Run `work` with the settings and the resources, reporting failures as one line."""
    with reporting_errors():
        settings = load_settings()

        async def main() -> T:
            async with admin_resources(settings) as resources:
                return await work(settings, resources)

        return asyncio.run(main())
