"""What the process opens once and shares between requests: pools, factories, codecs.

`open_resources` is the whole lifespan of the process-wide objects. The app's lifespan and the
CLI both use it, and dependencies in `app/api/deps.py` hand the pieces out per request.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory
from app.core.redis import create_redis_client, create_redis_pool
from app.core.security import Argon2PasswordHasher, PasswordHasher

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True, slots=True)
class Resources:
    engine: AsyncEngine
    session_factory: SessionFactory
    redis: Redis
    password_hasher: PasswordHasher
    migration_heads: frozenset[str]


def read_migration_heads(directory: Path = MIGRATIONS_DIR) -> frozenset[str]:
    """The revisions the code expects the database to be at (read from disk, once)."""
    return frozenset(ScriptDirectory(str(directory)).get_heads())


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Create every shared resource; close them in reverse order on exit. Connects lazily."""
    engine = create_engine(settings.database)
    redis = create_redis_client(create_redis_pool(settings.redis))
    try:
        yield Resources(
            engine=engine,
            session_factory=create_session_factory(engine),
            redis=redis,
            password_hasher=Argon2PasswordHasher(settings.auth),
            migration_heads=read_migration_heads(),
        )
    finally:
        await redis.aclose(close_connection_pool=True)
        await engine.dispose()
