"""Cache-aside over Redis with a small typed interface. Redis is soft: when it is down, reads
miss and writes are skipped (the caller falls back to PostgreSQL), logged once per interval."""

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.redis import RedisCircuit

ModelT = TypeVar("ModelT", bound=BaseModel)


class Cache(Protocol):
    async def get(self, key: str, model: type[ModelT]) -> ModelT | None: ...

    async def set(self, key: str, value: BaseModel, *, ttl_seconds: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...


class RedisCache:
    def __init__(self, redis: Redis, circuit: RedisCircuit, *, prefix: str = "cache:") -> None:
        self.redis = redis
        self.circuit = circuit
        self.prefix = prefix

    async def get(self, key: str, model: type[ModelT]) -> ModelT | None:
        raw = await self._soft("read", lambda: self.redis.get(self.prefix + key))
        return model.model_validate_json(raw) if isinstance(raw, str) else None

    async def set(self, key: str, value: BaseModel, *, ttl_seconds: int) -> None:
        payload = value.model_dump_json()
        await self._soft(
            "write", lambda: self.redis.set(self.prefix + key, payload, ex=ttl_seconds)
        )

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._soft("delete", lambda: self.redis.delete(*(self.prefix + k for k in keys)))

    async def _soft(self, what: str, call: Callable[[], Awaitable[object]]) -> object:
        if not self.circuit.available:
            return None
        try:
            return await call()
        except (RedisError, OSError) as error:
            self.circuit.failed(f"cache {what}", error)
            return None
