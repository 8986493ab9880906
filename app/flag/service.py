"""Per-tenant feature flags, stored in PostgreSQL and cached whole per tenant."""

import uuid
from collections.abc import Sequence

from app.core.cache import Cache, get_or_load
from app.flag.models import FeatureFlag
from app.flag.repository import FlagRepository
from app.flag.schemas import FlagSet, FlagUpdate

CACHE_TTL_SECONDS = 60


def flags_key(tenant_id: uuid.UUID) -> str:
    return f"flags:{tenant_id}"


class FlagService:
    def __init__(self, flags: FlagRepository, cache: Cache) -> None:
        self.flags = flags
        self.cache = cache

    async def list(self) -> Sequence[FeatureFlag]:
        return await self.flags.list()

    async def is_enabled(self, key: str) -> bool:
        async def load() -> FlagSet:
            return FlagSet(flags={f.key: f.enabled for f in await self.flags.list()})

        cache_key = flags_key(self.flags.tenant_id)
        flag_set = await get_or_load(
            self.cache, cache_key, FlagSet, load, ttl_seconds=CACHE_TTL_SECONDS
        )
        return flag_set.flags.get(key, False)

    async def set(self, key: str, changes: FlagUpdate) -> FeatureFlag:
        flag = await self.flags.put(key, enabled=changes.enabled)
        cache_key = flags_key(self.flags.tenant_id)
        self.flags.after_commit(lambda: self.cache.delete(cache_key))
        return flag
