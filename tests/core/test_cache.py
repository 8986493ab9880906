"""`get_or_load` (app/core/cache.py), the one read-through path of the tenant directory and of
every cached read model, over the real `RedisCache`: a hit never reaches the database, a miss
loads once and fills, nothing found is not cached, a TTL of 0 turns caching off, and a versioned
fill made from a read that raced with an invalidation is never served."""

from collections.abc import Coroutine
from typing import Any

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from app.core.cache import RedisCache, get_or_load
from app.core.metrics import AppMetrics
from app.core.redis import RedisCircuit


class Row(BaseModel):
    name: str


class Database:
    """What `load` reads, counting the reads; `during_read` runs inside one (a racing change)."""

    def __init__(self, row: Row | None) -> None:
        self.row = row
        self.reads = 0
        self.during_read: list[Coroutine[Any, Any, None]] = []

    async def load(self) -> Row | None:
        self.reads += 1
        for change in self.during_read:
            await change
        self.during_read.clear()
        return self.row


@pytest.fixture
def cache(redis: Redis) -> RedisCache:
    circuit = RedisCircuit(AppMetrics(), cooldown_seconds=0, log_interval_seconds=60)
    return RedisCache(redis, circuit)


@pytest.mark.parametrize("subject", [None, "things"])
class TestReadThrough:
    async def test_a_miss_loads_once_and_fills(
        self, cache: RedisCache, subject: str | None
    ) -> None:
        database = Database(Row(name="first"))

        first = await get_or_load(cache, "k", Row, database.load, ttl_seconds=60, subject=subject)
        database.row = Row(name="changed without telling the cache")
        second = await get_or_load(cache, "k", Row, database.load, ttl_seconds=60, subject=subject)

        assert (first, second) == (Row(name="first"), Row(name="first"))
        assert database.reads == 1

    async def test_nothing_found_is_not_cached(
        self, cache: RedisCache, subject: str | None
    ) -> None:
        database = Database(None)

        for _ in range(2):
            assert (
                await get_or_load(cache, "k", Row, database.load, ttl_seconds=60, subject=subject)
                is None
            )

        assert database.reads == 2

    async def test_a_ttl_of_zero_turns_caching_off(
        self, cache: RedisCache, redis: Redis, subject: str | None
    ) -> None:
        database = Database(Row(name="fresh"))

        for _ in range(2):
            await get_or_load(cache, "k", Row, database.load, ttl_seconds=0, subject=subject)

        assert database.reads == 2
        assert await redis.keys("cache:*") == []

    async def test_the_entry_lives_for_the_ttl(
        self, cache: RedisCache, redis: Redis, subject: str | None
    ) -> None:
        database = Database(Row(name="x"))
        await get_or_load(cache, "k", Row, database.load, ttl_seconds=42, subject=subject)
        assert 0 < await redis.ttl("cache:k") <= 42


async def test_a_versioned_fill_from_a_read_that_raced_a_change_is_never_served(
    cache: RedisCache,
) -> None:
    database = Database(Row(name="before the change"))
    # The change commits and invalidates while the first reader is reading the old row.
    database.during_read.append(cache.invalidate("things"))

    raced = await get_or_load(cache, "k", Row, database.load, ttl_seconds=60, subject="things")
    database.row = Row(name="after the change")
    later = await get_or_load(cache, "k", Row, database.load, ttl_seconds=60, subject="things")

    assert raced == Row(name="before the change")  # right for the request that read it
    assert later == Row(name="after the change")  # its late fill was not served
    assert database.reads == 2
