"""The async engine and session factory. Created once per process by `open_resources`."""

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import DatabaseSettings

logger = logging.getLogger("app.db")

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(
    settings: DatabaseSettings, *, url: str | None = None, hide_parameters: bool = True
) -> AsyncEngine:
    """`hide_parameters`: keep statement parameters (password hashes, emails, any user input)
    out of error messages, and so out of the logs. Only development and test show them."""
    return create_async_engine(
        url or settings.url,
        echo=settings.echo,
        hide_parameters=hide_parameters,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.connect_timeout_seconds,
            "server_settings": {
                "application_name": "dependable",
                "statement_timeout": str(settings.statement_timeout_ms),
            },
        },
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: loaded rows stay readable after the commit without another query.
    # autoflush=False: repositories flush explicitly, so SQL runs where the code says it does.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once this session's transaction has committed (cache invalidation, events).

    Nothing runs if the transaction rolls back, so a failed write never invalidates or announces.
    `get_session` calls `run_after_commit` right after its commit.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The data is committed: a failed side effect is logged, not turned into an error.
            logger.exception("after-commit callback failed")


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)
