"""Cache-aside over Redis with a small typed interface. Redis is soft: when it is down, reads
miss and writes are skipped (the caller falls back to PostgreSQL), logged once per interval.

Two kinds of entry:
- plain (`get`/`set`/`delete`), for data whose staleness only shows old values (a resource's
  read model, a tenant's settings);
- versioned (`get_fresh`/`fill`/`invalidate`), for data that authorization reads (the caller's
  role, the tenant's active flag). Each entry records the generation of its subject at the time
  the database was read; `invalidate` increments that generation, so an entry filled from a
  read that raced with a change is never served, however late it is written.

Readers go through `get_or_load`, for either kind. The one exception is the request context
(`app.auth.context`), which reads its entries in the same round trip as the token denylist.
"""

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from app.core.redis import RedisCircuit, skipped

ModelT = TypeVar("ModelT", bound=BaseModel)
LoadedT = TypeVar("LoadedT", bound=BaseModel | None)

PREFIX = "cache:"
# A generation outlives every entry tagged with it (entry TTLs are capped well below this).
GENERATION_TTL_SECONDS = 7 * 24 * 3600


def entry_key(key: str) -> str:
    return PREFIX + key


def generation_key(subject: str) -> str:
    return f"{PREFIX}gen:{subject}"


def read_fresh(raw_entry: object, raw_generation: object, model: type[ModelT]) -> ModelT | None:
    """The entry's value if it was filled at the subject's current generation, else None."""
    if not isinstance(raw_entry, str):
        return None
    try:
        entry = json.loads(raw_entry)
        if entry.get("g") != _generation(raw_generation):
            return None
        return model.model_validate(entry["v"])
    except (ValueError, TypeError, KeyError, AttributeError, ValidationError):
        return None  # an entry of another shape (an older release): a miss


@dataclass(frozen=True, slots=True)
class Fill:
    key: str
    value: BaseModel
    generation: object  # as read by `get_fresh` (or a snapshot) before the database was read
    ttl_seconds: int


def tagged(value: BaseModel, generation: object) -> str:
    return json.dumps({"g": _generation(generation), "v": value.model_dump(mode="json")})


def _generation(raw: object) -> int:
    """A generation as Redis returns it (None before the first invalidation)."""
    return int(raw) if isinstance(raw, str | int) else 0


class Cache(Protocol):
    async def get(self, key: str, model: type[ModelT]) -> ModelT | None: ...

    async def set(self, key: str, value: BaseModel, *, ttl_seconds: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def get_fresh(
        self, key: str, subject: str, model: type[ModelT]
    ) -> tuple[ModelT | None, object]: ...

    async def fill(self, entries: Sequence[Fill]) -> None: ...

    async def invalidate(self, *subjects: str) -> None:
        """Move each subject's generation on: versioned entries filled from reads made before
        this call are never served again (they expire on their own)."""
        ...


async def get_or_load(
    cache: Cache,
    key: str,
    model: type[ModelT],
    load: Callable[[], Awaitable[LoadedT]],
    *,
    ttl_seconds: int,
    subject: str | None = None,
) -> ModelT | LoadedT:
    """Read-through: the entry at `key`, or else what `load` reads from the database, cached for
    `ttl_seconds` (None, nothing found, is not cached; a TTL of 0 turns caching off). With a
    `subject` the entry is versioned: the subject's generation comes back with the entry, before
    `load` runs, and the fill is tagged with it.

    A function over `Cache`, not a method of it: it reads and fills only through the interface,
    so every implementation and wrapper (a test that holds a fill to stage a race) takes part
    without implementing it again."""
    if ttl_seconds <= 0:
        return await load()
    if subject is None:
        if (cached := await cache.get(key, model)) is not None:
            return cached
        loaded = await load()
        if loaded is not None:
            await cache.set(key, loaded, ttl_seconds=ttl_seconds)
        return loaded
    fresh, generation = await cache.get_fresh(key, subject, model)
    if fresh is not None:
        return fresh
    loaded = await load()
    if loaded is not None:
        await cache.fill([Fill(key, loaded, generation, ttl_seconds)])
    return loaded


class RedisCache:
    def __init__(self, redis: Redis, circuit: RedisCircuit) -> None:
        self.redis = redis
        self.circuit = circuit

    async def get(self, key: str, model: type[ModelT]) -> ModelT | None:
        raw = await self.circuit.call(
            "cache read", lambda: self.redis.get(entry_key(key)), fallback=skipped
        )
        if not isinstance(raw, str):
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            return None

    async def set(self, key: str, value: BaseModel, *, ttl_seconds: int) -> None:
        payload = value.model_dump_json()
        await self.circuit.call(
            "cache write",
            lambda: self.redis.set(entry_key(key), payload, ex=ttl_seconds),
            fallback=skipped,
        )

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.circuit.call(
                "cache delete", lambda: self.redis.delete(*map(entry_key, keys)), fallback=skipped
            )

    async def get_fresh(
        self, key: str, subject: str, model: type[ModelT]
    ) -> tuple[ModelT | None, object]:
        """A versioned entry and the subject's generation (pass it to `fill`), in one trip."""
        found = await self.circuit.call(
            "cache read",
            lambda: self.redis.mget(entry_key(key), generation_key(subject)),
            fallback=skipped,
        )
        if not isinstance(found, list):
            return None, None
        return read_fresh(found[0], found[1], model), found[1]

    async def fill(self, entries: Sequence[Fill]) -> None:
        """Store versioned entries in one round trip. Each carries the generation that was
        read *before* the database was, so a change committed in between retires it."""
        if not entries:
            return

        async def write() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.set(
                        entry_key(entry.key),
                        tagged(entry.value, entry.generation),
                        ex=entry.ttl_seconds,
                    )
                return await pipe.execute()

        await self.circuit.call("cache write", write, fallback=skipped)

    async def invalidate(self, *subjects: str) -> None:
        if not subjects:
            return

        async def bump() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for subject in subjects:
                    pipe.incr(generation_key(subject))
                    pipe.expire(generation_key(subject), GENERATION_TTL_SECONDS)
                return await pipe.execute()

        await self.circuit.call("cache invalidate", bump, fallback=skipped)
