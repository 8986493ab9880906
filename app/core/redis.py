"""The Redis connection pool: one per process, short timeouts so an outage never hangs a request."""

from redis.asyncio import ConnectionPool, Redis

from app.core.config import RedisSettings


def create_redis_pool(settings: RedisSettings) -> ConnectionPool:
    return ConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.socket_timeout_seconds,
        decode_responses=True,
    )


def create_redis_client(pool: ConnectionPool) -> Redis:
    return Redis(connection_pool=pool)
