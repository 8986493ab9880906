"""What the process opens once and shares between requests: pools, factories, codecs.

`open_resources` is the whole lifespan of the process-wide objects. The app's lifespan and the
CLI both use it, and dependencies in `app/api/deps.py` hand the pieces out per request.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory
from app.core.pagination import CursorCodec
from app.core.redis import RedisCircuit, create_redis_client, create_redis_pool
from app.core.security import Argon2PasswordHasher, JWTCodec, PasswordHasher

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True, slots=True)
class Resources:
    engine: AsyncEngine
    session_factory: SessionFactory
    redis: Redis
    password_hasher: PasswordHasher
    jwt: JWTCodec
    cursor_codec: CursorCodec
    redis_circuit: RedisCircuit
    migration_heads: frozenset[str]


def read_migration_heads(directory: Path = MIGRATIONS_DIR) -> frozenset[str]:
    """The revisions the code expects the database to be at (read from disk, once)."""
    return frozenset(ScriptDirectory(str(directory)).get_heads())


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Create every shared resource; close them in reverse order on exit. Connects lazily."""
    engine = create_engine(settings.database, hide_parameters=not settings.is_development)
    redis = create_redis_client(create_redis_pool(settings.redis))
    try:
        yield Resources(
            engine=engine,
            session_factory=create_session_factory(engine),
            redis=redis,
            password_hasher=Argon2PasswordHasher(settings.auth),
            jwt=JWTCodec(settings.auth),
            cursor_codec=CursorCodec(settings.api.cursor_secret.get_secret_value().encode()),
            redis_circuit=RedisCircuit(
                cooldown_seconds=settings.redis.circuit_cooldown_seconds,
                log_interval_seconds=settings.redis.outage_log_interval_seconds,
            ),
            migration_heads=read_migration_heads(),
        )
    finally:
        await redis.aclose(close_connection_pool=True)
        await engine.dispose()
        logging.getLogger(__name__).info("resources closed")
