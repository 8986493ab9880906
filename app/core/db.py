"""The async engine and session factory. Created once per process by `open_resources`."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import DatabaseSettings

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(settings: DatabaseSettings, *, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        url or settings.url,
        echo=settings.echo,
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
